"""Deterministic demo data: a small Claude Code config dir and API logs, and their generator."""
