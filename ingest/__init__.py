"""Headless core: discovery, parsing, storage, pricing, signals and queries. Never imports Textual."""
