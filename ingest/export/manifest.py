"""The manifest of an export: what was selected, how it was cleaned, and every file with its rows, bytes and SHA-256.

Written last, so an auditor can check that nothing was added, dropped or changed.
"""

from __future__ import annotations

from typing import Any

from tiermon.ingest.export.model import ExportData
from tiermon.ingest.export.output_dir import FileRecord
from tiermon.ingest.export.tables import _json_default


def _manifest(data: ExportData, formats: list[str], records: list[FileRecord]) -> dict[str, Any]:
    from tiermon import __version__

    tiers = {row["tier"]: {"requests": row["requests"], "cost_usd": _round(row["cost_usd"]),
                           "unpriced_tokens": row.get("unpriced_tokens") or 0}
             for row in data.rows("tiers")}  # fmt: skip
    priced = [t["cost_usd"] for t in tiers.values() if t["cost_usd"] is not None]
    return {
        "generator": "tiermon export",
        "tiermon_version": __version__,
        "price_version": data.price_version,
        "schema_version": data.schema_version,
        "created_at": _json_default(data.created_at),
        "filters": data.selection.as_dict(),
        "redaction": {"text_redacted": not data.include_text, "secrets_scrubbed": True},
        "formats": formats,
        "totals": {
            "sessions": data.tables["sessions"].num_rows,
            "responses": data.tables["responses"].num_rows,
            "events": data.tables["events"].num_rows,
            "cost_usd": round(sum(priced), 6) if priced or not tiers else None,
            "unpriced_tokens": sum(t["unpriced_tokens"] for t in tiers.values()),
            "tiers": tiers,
        },
        "note": "Costs are estimates at list price.",
        "files": [
            {"name": r.name, "format": r.format, "table": r.table, "rows": r.rows, "bytes": r.bytes, "sha256": r.sha256}
            for r in records
        ],
    }


def _round(value: float | None) -> float | None:
    """Six decimals; an unpriced cost stays None (null), never $0."""
    return None if value is None else round(value, 6)
