"""Command-line subcommands; each module registers its commands on the main group."""
