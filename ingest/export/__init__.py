"""Exports for auditors: selected sessions as JSONL, CSV, Parquet and HTML, with a manifest.

`collect` reads one selection out of the store into Arrow tables, with every
string scrubbed of secrets and, unless text is kept, transcript text reduced
to its length. `write_export` writes those tables into one folder and never
outside it: each file is staged under a private temporary name (created
0600, never through a symlink), hashed, then renamed into place; the
manifest, written last, lists every file with its rows, bytes and SHA-256.

The package splits that work by job: `selection` (the filters), `collect`
(reading the store), `cleaning` (scrub and redact), `tables` (JSONL, CSV and
Parquet writers), `output_dir` (safe file writing), `manifest`, `html_report`
and `writing` (`write_export`, which ties them together). The names callers
use are re-exported here.
"""

from __future__ import annotations

from tiermon.ingest.export.cleaning import TEXT_KEYS
from tiermon.ingest.export.collect import TIERS, collect
from tiermon.ingest.export.model import (
    FORMATS,
    HTML_NAME,
    MANIFEST_NAME,
    TABLES,
    EmptySelection,
    ExportData,
    ExportError,
)
from tiermon.ingest.export.output_dir import FileRecord, OutputDir, Planned, Writer
from tiermon.ingest.export.selection import Selection, resolve_sessions
from tiermon.ingest.export.writing import write_export

__all__ = [
    "FORMATS",
    "HTML_NAME",
    "MANIFEST_NAME",
    "TABLES",
    "TEXT_KEYS",
    "TIERS",
    "EmptySelection",
    "ExportData",
    "ExportError",
    "FileRecord",
    "OutputDir",
    "Planned",
    "Selection",
    "Writer",
    "collect",
    "resolve_sessions",
    "write_export",
]
