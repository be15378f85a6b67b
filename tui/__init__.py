"""The Textual dashboard and the command line."""
