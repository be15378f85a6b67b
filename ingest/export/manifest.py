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

    tiers = {row["tier"]: {"requests": row["requests"], "cost_usd": round(row["cost_usd"], 6)}
             for row in data.rows("tiers")}  # fmt: skip
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
            "cost_usd": round(sum(t["cost_usd"] for t in tiers.values()), 6),
            "tiers": tiers,
        },
        "note": "Costs are estimates at list price.",
        "files": [
            {"name": r.name, "format": r.format, "table": r.table, "rows": r.rows, "bytes": r.bytes, "sha256": r.sha256}
            for r in records
        ],
    }
