"""Writing one export: the chosen formats planned as files, written into the output folder, then the manifest.

The only module that knows every format, so adding one touches this plan
and its writer alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tiermon.ingest.export.manifest import _manifest
from tiermon.ingest.export.model import FORMATS, HTML_NAME, MANIFEST_NAME, TABLES, ExportData, ExportError
from tiermon.ingest.export.output_dir import OutputDir, Planned
from tiermon.ingest.export.tables import _bytes_writer, _writer


def write_export(data: ExportData, out_dir: Path, formats: Iterable[str], *, prefix: str = "",
                 csv_cell: Callable[[Any], Any] = lambda v: v) -> dict[str, Any]:  # fmt: skip
    """Write the chosen formats and the manifest into `out_dir`; returns the manifest.

    `csv_cell` neutralises spreadsheet formulas (the CLI passes its `csv_safe`).
    """
    wanted = set(formats)
    chosen = [f for f in FORMATS if f in wanted]
    unknown = wanted - set(FORMATS)
    if unknown or not chosen:
        raise ExportError(
            f"unknown format {', '.join(sorted(unknown)) or '(none)'} (choose from {', '.join(FORMATS)}, all)"
        )
    folder = OutputDir(out_dir)
    plan: list[Planned] = []
    for fmt in chosen:
        if fmt == "html":
            from tiermon.ingest.export.html_report import render_html

            html = render_html(data).encode("utf-8")
            plan.append(Planned(f"{prefix}{HTML_NAME}", fmt, "report", data.tables["sessions"].num_rows,
                                _bytes_writer(html)))  # fmt: skip
            continue
        for name in TABLES:
            table = data.tables[name]
            plan.append(Planned(f"{prefix}{name}.{fmt}", fmt, name, table.num_rows, _writer(fmt, table, csv_cell)))
    records = folder.write_all(plan)
    manifest = _manifest(data, chosen, records)
    body = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    folder.write_all([Planned(f"{prefix}{MANIFEST_NAME}", "json", "manifest", 0, _bytes_writer(body))])
    return manifest
