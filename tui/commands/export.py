"""`tiermon export`: sessions or a date range as JSONL, CSV, Parquet and HTML, with a manifest.

Exit status: 0 when files were written; 1 when the filters match no API
response (nothing is written); 2 on bad input (an unknown or ambiguous
session, a bad date, an output path that would leave the folder or pass
through a symlink).
"""

from __future__ import annotations

from pathlib import Path

import click

from tiermon.ingest.export import (
    FORMATS,
    EmptySelection,
    ExportError,
    Selection,
    collect,
    resolve_sessions,
    write_export,
)
from tiermon.ingest.reports import ReportError
from tiermon.ingest.sanitize import printable
from tiermon.ingest.zone import local_timezone
from tiermon.tui.commands.common import (
    csv_safe,
    emit_json,
    global_options,
    parse_day,
    reading,
    settings_from,
)


@click.command("export")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="Folder to write into (created 0700 if missing); nothing is written outside it.")
@click.option("--format", "formats", multiple=True, type=click.Choice([*FORMATS, "all"]),
              help="jsonl, csv, parquet, html or all (repeatable; default all).")
@click.option("--session", "sessions", multiple=True, help="A session id or unique prefix (repeatable).")
@click.option("--project", help="Only projects whose path contains this.")
@click.option("--since", help="First day (YYYY-MM-DD or YYYYMMDD).")
@click.option("--until", help="Last day, inclusive.")
@click.option("--timezone", "tz", help="IANA zone that --since/--until days are cut in (default: this machine's).")
@click.option("--redact/--include-text", "redact", default=True,
              help="Replace prompt, response and tool text by its length (default), or keep it. "
                   "API keys and common secrets are scrubbed either way.")
@click.option("--prefix", default="", help="Put this before every file name (e.g. audit-2026-03-).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@global_options
@click.pass_context
def export(ctx: click.Context, out: Path, formats: tuple[str, ...], sessions: tuple[str, ...], project: str | None,
           since: str | None, until: str | None, tz: str | None, redact: bool, prefix: str,
           as_json: bool) -> None:  # fmt: skip
    """Export sessions for an audit: data files, an HTML report and a manifest of SHA-256 hashes.

    Exits 1 when no API response matches the filters (nothing is written), 2 on bad input.
    """
    chosen = FORMATS if not formats or "all" in formats else tuple(dict.fromkeys(formats))
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if first and last and first > last:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    settings = settings_from(ctx)
    try:
        with reading(settings) as store:
            selection = Selection(sessions=resolve_sessions(store, sessions), project=project, since=first,
                                  until=last, tz=tz or local_timezone())  # fmt: skip
            data = collect(store, selection, include_text=not redact)
        manifest = write_export(data, out, chosen, prefix=prefix, csv_cell=csv_safe)
    except EmptySelection as exc:
        click.echo(f"tiermon: {printable(str(exc), one_line=True)}", err=True)
        ctx.exit(1)
    except (ExportError, ReportError) as exc:
        click.echo(f"tiermon: error: {printable(str(exc), one_line=True)}", err=True)
        ctx.exit(2)
    if as_json:
        emit_json(manifest)
        return
    totals = manifest["totals"]
    folder = out.expanduser().resolve()
    click.echo(
        f"Exported {totals['sessions']} session{'s' if totals['sessions'] != 1 else ''} "
        f"({totals['responses']:,} API responses, {totals['events']:,} events) "
        f"as {', '.join(chosen)} to {folder}: {len(manifest['files'])} files, "
        f"text {'redacted' if redact else 'kept'}, secrets scrubbed. Manifest: {folder / (prefix + 'manifest.json')}",
    )


def register(group: click.Group) -> None:
    group.add_command(export)
