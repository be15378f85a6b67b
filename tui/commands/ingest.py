"""`tiermon ingest`, `tiermon prices` and `tiermon doctor`."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from tiermon.ingest import formatting as fmt, genai_rates
from tiermon.ingest.genai_rates import ALWAYS_FROM
from tiermon.ingest.pricing import SURCHARGES, Price, load_price_table
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.signals.views import health
from tiermon.ingest.sources import SOURCES
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary
from tiermon.tui.commands.common import console, emit_json, global_options, settings_from


@click.command("ingest")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--rebuild-signals", is_flag=True, help="Recompute the signals of every stored session.")
@global_options
@click.pass_context
def ingest(ctx: click.Context, as_json: bool, rebuild_signals: bool) -> None:
    """Read everything new from the sources into the store, with a progress bar."""
    settings = settings_from(ctx)
    ingestor = Ingestor(settings)
    if not any(ingestor.roots().values()):
        raise click.ClickException(
            "no agent data found (looked for Claude Code in CLAUDE_CONFIG_DIR, ~/.config/claude, ~/.claude);"
            " use --source [KIND=]DIR"
        )
    if rebuild_signals:
        from tiermon.ingest.signals.staleness import mark_stale

        with Store.open(settings.db_path) as store:
            mark_stale(store)
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
        emit_json({"version": table.version, "package": genai_rates.source_label(), "sources": list(table.sources),
                   "models": [_json_row(p) for p in table.rows()], "unpriced_models": unpriced})  # fmt: skip
        return
    out = console()
    grid = Table(title=f"Prices in force, USD per million tokens ({' + '.join(table.sources)})", title_justify="left")
    for col in ("model", "vendor", "tier", "from", "input", "output", "5m write", "1h write", "cache read",
                "long context", "fast ×", "window", "source"):  # fmt: skip
        grid.add_column(col, justify="left" if col in ("model", "vendor", "tier", "from", "source") else "right")
    for p in sorted(table.rows(), key=lambda p: (p.vendor, p.tier, p.model, p.valid_from)):
        r, lc = p.rates, p.long_context
        since = "" if p.valid_from == ALWAYS_FROM else f"{p.valid_from:%Y-%m-%d}"
        grid.add_row(p.model, p.vendor, p.tier, since, f"{r.input:g}", f"{r.output:g}", f"{r.write_5m:g}",
                     f"{r.write_1h:g}", f"{r.cache_read:g}",
                     f"{lc.input:g}/{lc.output:g} >{fmt.tokens(p.lc_threshold)}" if lc else "",
                     f"{p.fast_multiplier:g}", fmt.tokens(p.context_window), p.source)  # fmt: skip
    out.print(grid)
    rules = ", ".join(f"{s.label} ×{s.factor:g}" for s in SURCHARGES if s.factor is not None)
    out.print(Text(f"Rates from {genai_rates.source_label()}; override or add models in {settings.price_file}. "
                   f"Every model: {rules}.", style="dim"))  # fmt: skip
    if unpriced:
        seen = ", ".join(
            f"{u['model']} ({fmt.plural(u['requests'], 'request')}, {fmt.tokens(u['tokens'])} tokens)" for u in unpriced
        )
        out.print(Text("Unpriced models seen: " + seen, style="yellow"))


def _json_row(p: Price) -> dict[str, Any]:
    row = p.as_row()
    for key in ("valid_from", "valid_to"):
        row[key] = row[key].isoformat()
    return row


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
        report = health(store)
    report.update({"db": str(settings.db_path), "config_dir": str(settings.config_dir),
                   "claude_roots": [str(r) for r in roots["claude"]], "api_logs": [str(p) for p in settings.api_logs],
                   "sources": {kind: [str(r) for r in paths] for kind, paths in roots.items()},
                   "last_pass": summary_dict(summary, settings.db_path), "serve": _resident()})  # fmt: skip
    if as_json:
        emit_json(report)
        return
    out = console()
    out.print(Text(f"Database     {report['db']}"))
    out.print(Text(f"Config dir   {report['config_dir']}"))
    for kind, paths in report["sources"].items():
        out.print(Text(f"{SOURCES[kind].label:<12} " + (", ".join(paths) or "none found")))
    out.print(Text(f"Files tailed {report['files_tailed']} ({report['bytes_tailed'] / 1e6:.1f} MB), "
                   f"responses {report['responses']:,}"))  # fmt: skip
    out.print(Text(f"Quarantined  {report['quarantined']} lines", style="yellow" if report["quarantined"] else ""))
    for q in report["quarantine_latest"]:
        out.print(Text(f"  {q['file_path']}:{q['line_offset']}  {q['reason']}", style="dim"))
    unknown = report["unknown_entry_types"]
    unknown_types = ", ".join(f"{u['entry_type']}@{u['version'] or '?'} ×{u['n']}" for u in unknown)
    out.print(Text("Unknown types " + (unknown_types or "none")))
    share = report["unpriced_token_share"]
    names = ", ".join(u["model"] for u in report["unpriced_models"])
    unpriced_models = f" ({names})" if names else ""
    out.print(Text(f"Unpriced     {share:.1%} of tokens" + unpriced_models, style="yellow" if share else ""))
    unmapped = ", ".join(f"{u['model']} ({u['agent']}, {u['requests']} requests)" for u in report["unmapped_models"])
    out.print(Text("Unmapped     " + (unmapped + " — map them in models.toml" if unmapped else "none"),
                   style="yellow" if unmapped else ""))  # fmt: skip
    out.print(Text(f"Versions     {', '.join(report['versions']) or 'none'}"))
    serve = report["serve"]
    out.print(Text("Resident     " + (
        f"tiermon serve answering at {serve['socket']} (pid {serve['pid']}, {serve['answered']} answered so far)"
        if serve["running"] else "none: each report starts its own process (`tiermon serve` answers them faster)"
    )))  # fmt: skip


def _resident() -> dict[str, Any]:
    """Whether a `tiermon serve` answers this user's reports, and which store it keeps open."""
    from tiermon.tui.resident import probe, socket_path

    reply = probe()
    if reply is None:
        return {"running": False, "socket": socket_path()}
    return {"running": True, "socket": reply["socket"], "pid": reply.get("pid"), "store": reply.get("store"),
            "answered": reply.get("answered"), "version": reply.get("version")}  # fmt: skip


def register(group: click.Group) -> None:
    group.add_command(ingest)
    group.add_command(prices)
    group.add_command(doctor)
