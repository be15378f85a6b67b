"""`tiermon ingest`, `tiermon prices` and `tiermon doctor`."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.ingest.pricing import load_price_table
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary
from tiermon.tui.commands.common import console, emit_json, global_options, settings_from


@click.command("ingest")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@global_options
@click.pass_context
def ingest(ctx: click.Context, as_json: bool) -> None:
    """Read everything new from the sources into the store, with a progress bar."""
    settings = settings_from(ctx)
    ingestor = Ingestor(settings)
    if not any(ingestor.roots().values()):
        raise click.ClickException(
            "no agent data found (looked for Claude Code in CLAUDE_CONFIG_DIR, ~/.config/claude, ~/.claude);"
            " use --source [KIND=]DIR"
        )
    summary = _with_progress(ingestor) if sys.stderr.isatty() and not as_json else ingestor.run()
    if as_json:
        emit_json(summary_dict(summary, settings.db_path))
        return
    out = console()
    out.print(
        f"Read {summary.files_read} of {summary.files_seen} files ({summary.bytes_read / 1e6:.1f} MB), "
        f"{summary.lines:,} lines, {summary.responses:,} API responses, "
        f"{summary.quarantined} quarantined lines in {summary.seconds + summary.signals_seconds:.2f}s "
        f"into {settings.db_path}",
        highlight=False,
    )
    if summary.quarantined:
        out.print(Text("Quarantined lines are listed by `tiermon doctor`.", style="yellow"))


def _with_progress(ingestor: Ingestor) -> IngestSummary:
    columns = (TextColumn("ingesting"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as progress:
        task = progress.add_task("ingest", total=None)
        return ingestor.run(lambda done, total: progress.update(task, completed=done, total=total))


def summary_dict(summary: IngestSummary, db: Any) -> dict[str, Any]:
    return {
        "db": str(db), "files_seen": summary.files_seen, "files_read": summary.files_read,
        "files_reset": summary.files_reset, "bytes_read": summary.bytes_read, "lines": summary.lines,
        "responses": summary.responses, "quarantined": summary.quarantined,
        "seconds": round(summary.seconds + summary.signals_seconds, 3), "read_seconds": round(summary.seconds, 3),
        "signals_seconds": round(summary.signals_seconds, 3),
    }  # fmt: skip


@click.command("prices")
@click.option("--json", "as_json", is_flag=True)
@global_options
@click.pass_context
def prices(ctx: click.Context, as_json: bool) -> None:
    """The price table in force, and the models seen that it does not price."""
    settings = settings_from(ctx)
    table = load_price_table(settings.price_file)
    unpriced: list[dict[str, Any]] = []
    if settings.db_path.exists():
        with Store.open(settings.db_path, read_only=True) as store:
            unpriced = store.query_dicts(
                "SELECT model, count(*) AS requests, sum(input_tokens + output_tokens + cache_read_tokens"
                " + cache_write_5m_tokens + cache_write_1h_tokens)::BIGINT AS tokens"
                " FROM responses WHERE NOT priced GROUP BY model ORDER BY model"
            )
    if as_json:
        emit_json({"version": table.version, "sources": list(table.sources),
                   "models": [p.as_row() for p in table.prices.values()], "unpriced_models": unpriced})  # fmt: skip
        return
    out = console()
    grid = Table(title=f"Prices in force, USD per million tokens ({' + '.join(table.sources)})", title_justify="left")
    for col in ("model", "tier", "input", "output", "5m write", "1h write", "cache read", "long context (>200k)",
                "fast ×", "window"):  # fmt: skip
        grid.add_column(col, justify="left" if col in ("model", "tier") else "right")
    for p in sorted(table.prices.values(), key=lambda p: (p.tier, p.model)):
        r, lc = p.rates, p.long_context
        grid.add_row(p.model, p.tier, f"{r.input:g}", f"{r.output:g}", f"{r.write_5m:g}", f"{r.write_1h:g}",
                     f"{r.cache_read:g}", f"{lc.input:g}/{lc.output:g}" if lc else "", f"{p.fast_multiplier:g}",
                     fmt.tokens(p.context_window))  # fmt: skip
    out.print(grid)
    out.print(
        Text(f"Override or add models in {settings.price_file}. US-only inference ×1.1, batch ×0.5.", style="dim")
    )
    if unpriced:
        seen = ", ".join(
            f"{u['model']} ({fmt.plural(u['requests'], 'request')}, {fmt.tokens(u['tokens'])} tokens)" for u in unpriced
        )
        out.print(Text("Unpriced models seen: " + seen, style="yellow"))


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True)
@global_options
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Sources found, files tailed and pipeline health (SPEC §4.9)."""
    settings = settings_from(ctx)
    ingestor = Ingestor(settings)
    roots = ingestor.roots()
    summary = ingestor.run()
    with Store.open(settings.db_path, read_only=True) as store:
        report = health_report(store)
    report.update({"db": str(settings.db_path), "config_dir": str(settings.config_dir),
                   "claude_roots": [str(r) for r in roots["claude"]], "api_logs": [str(p) for p in settings.api_logs],
                   "sources": {kind: [str(r) for r in paths] for kind, paths in roots.items()},
                   "last_pass": summary_dict(summary, settings.db_path)})  # fmt: skip
    if as_json:
        emit_json(report)
        return
    out = console()
    out.print(Text(f"Database     {report['db']}"))
    out.print(Text(f"Config dir   {report['config_dir']}"))
    out.print(Text("Claude roots " + (", ".join(report["claude_roots"]) or "none found")))
    out.print(Text("API logs     " + (", ".join(report["api_logs"]) or "none")))
    out.print(
        Text(f"Files tailed {report['files']} ({report['bytes'] / 1e6:.1f} MB), responses {report['responses']:,}")
    )
    out.print(Text(f"Quarantined  {report['quarantined']} lines", style="yellow" if report["quarantined"] else ""))
    for q in report["quarantine_latest"]:
        out.print(Text(f"  {q['file_path']}:{q['line_offset']}  {q['reason']}", style="dim"))
    unknown = report["unknown_entry_types"]
    unknown_types = ", ".join(f"{u['entry_type']}@{u['version'] or '?'} ×{u['n']}" for u in unknown)
    out.print(Text("Unknown types " + (unknown_types or "none")))
    share = report["unpriced_token_share"]
    unpriced_models = f" ({', '.join(report['unpriced_models'])})" if report["unpriced_models"] else ""
    out.print(Text(f"Unpriced     {share:.1%} of tokens" + unpriced_models, style="yellow" if share else ""))
    out.print(Text(f"Versions     {', '.join(report['versions']) or 'none'}"))


def health_report(store: Store) -> dict[str, Any]:
    """The numbers that show a format change as a number, not as silence."""
    files, size = store.query("SELECT count(*), coalesce(sum(size), 0) FROM files")[0]
    responses = store.query("SELECT count(*) FROM responses")[0][0]
    quarantined = store.query("SELECT count(*) FROM quarantine")[0][0]
    latest = store.query_dicts("SELECT file_path, line_offset, reason FROM quarantine ORDER BY \"at\" DESC, k LIMIT 5")
    unknown = store.query_dicts("SELECT entry_type, version, n FROM entry_types WHERE NOT known ORDER BY n DESC")
    versions = [
        r[0] for r in store.query("SELECT DISTINCT version FROM entry_types WHERE version <> '' ORDER BY version")
    ]
    tok = "input_tokens + output_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens"
    total, unpriced = store.query(
        f"SELECT coalesce(sum({tok}), 0), coalesce(sum({tok}) FILTER (WHERE NOT priced), 0) FROM responses"
    )[0]
    models = [r[0] for r in store.query("SELECT DISTINCT model FROM responses WHERE NOT priced ORDER BY 1")]
    return {
        "files": files, "bytes": size, "responses": responses, "quarantined": quarantined,
        "quarantine_latest": latest, "unknown_entry_types": unknown, "versions": versions,
        "unpriced_token_share": (unpriced / total) if total else 0.0, "unpriced_models": models,
    }  # fmt: skip


def register(group: click.Group) -> None:
    group.add_command(ingest)
    group.add_command(prices)
    group.add_command(doctor)
