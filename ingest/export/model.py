"""What every stage of an export shares: its formats and tables, its errors, and the data read for one selection.

Kept apart so the selecting, writing and report modules can all name these
without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from tiermon.ingest.export.selection import Selection

FORMATS = ("jsonl", "csv", "parquet", "html")
"""Every format `write_export` knows; `all` on the command line means these."""

TABLES = ("responses", "events", "sessions", "tiers", "switches", "subagents", "alerts", "advice")
"""The tables of a tabular export, in the order they are written."""

HTML_NAME = "report.html"
MANIFEST_NAME = "manifest.json"


class ExportError(ValueError):
    """A bad selection or output folder; the message is one line for the user."""


class EmptySelection(ExportError):
    """The filters match no API response: there is nothing to export."""


@dataclass
class ExportData:
    """One selection, read and cleaned, ready to write in any format."""

    selection: Selection
    include_text: bool
    tables: dict[str, pa.Table]
    price_version: str | None
    schema_version: int
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def rows(self, name: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.tables[name].to_pylist()
        return rows
