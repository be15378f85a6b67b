"""`tiermon report daily|weekly|monthly|session|model|blocks`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tiermon.ingest.answer_recorder import Recorder
from tiermon.ingest.config import default_dirs
from tiermon.ingest.reports import GROUPS, ReportFilter, blocks, model_rows, period_rows, session_rows, totals
from tiermon.ingest.zone import local_timezone
from tiermon.tui.commands.common import (
    console,
    csv_text,
    global_options,
    ingest_quietly,
    invocation_argv,
    json_text,
    parse_day,
    reading,
    settings_from,
    tokens,
    usd,
)

if TYPE_CHECKING:
    from datetime import datetime

F = TypeVar("F", bound=Callable[..., Any])

KINDS = ("daily", "weekly", "monthly", "session", "model", "blocks")
_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month"}
ESTIMATE_NOTE = "Figures are estimates at list price."
NO_TIME = "(no time)"
"""The period of responses whose timestamp could not be read: counted, but in no day."""


def filter_options(groups: list[str]) -> Callable[[F], F]:
    """The options every spend report shares: range, filters, grouping and output format."""
    options = [
        click.option("--since", help="First day (YYYY-MM-DD or YYYYMMDD)."),
        click.option("--until", help="Last day, inclusive."),
        click.option("--project", help="Only projects whose path contains this."),
        click.option("--tier", type=click.Choice(["haiku", "sonnet", "opus", "other"])),
        click.option("--by", "by", type=click.Choice(groups), help="Group rows by this dimension."),
        click.option("--breakdown", is_flag=True, help="Per-model figures inside each row."),
        click.option("--source-kind", type=click.Choice(["claude", "api"]), help="Only transcripts or only API logs."),
        click.option("--session", help="Only this session (id or prefix)."),
        click.option("--json", "as_json", is_flag=True, help="JSON (SPEC §5 contract)."),
        click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per line."),
        click.option("--timezone", "tz", help="IANA zone that days are cut in (default: this machine's)."),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def report_filter(opts: dict[str, Any]) -> ReportFilter:
    """A validated ReportFilter from the shared options; bad values are one-line usage errors."""
    if opts["as_json"] and opts["as_csv"]:
        raise click.UsageError("choose one of --json and --csv")
    f = ReportFilter(
        since=parse_day(opts["since"], "--since"), until=parse_day(opts["until"], "--until"),
        project=opts["project"], tier=opts["tier"], tz=opts["tz"] or local_timezone(),
        source_kind=opts["source_kind"], session=opts["session"],
    )  # fmt: skip
    if f.since and f.until and f.since > f.until:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    f.zone()
    return f


def emit(kind: str, data: dict[str, Any], opts: dict[str, Any]) -> None:
    """The report as JSON, CSV or a table, as the options ask."""
    sys.stdout.write(render(kind, data, opts))


def render(kind: str, data: dict[str, Any], opts: dict[str, Any]) -> str:
    """The exact text `emit` writes: the answer cache stores it as it is."""
    if opts["as_json"]:
        return json_text(data)
    if opts["as_csv"]:
        return csv_text(flat_rows(kind, data))
    out = console()
    with out.capture() as captured:
        print_table(out, kind, data, opts["breakdown"])
    return captured.get()


@click.command("report")
@click.argument("kind", type=click.Choice(KINDS))
@filter_options(list(GROUPS))
@global_options
@click.pass_context
def report(ctx: click.Context, /, kind: str, **opts: Any) -> None:
    """Spend per day, week, month, session, model or 5-hour block."""
    f = report_filter(opts)
    answer = Recorder.start(invocation_argv(ctx), default_dirs()[0])  # idle unless the answer can be cached
    settings = settings_from(ctx)
    answer.sources(settings.sources, settings.api_logs)
    ingest_quietly(settings)
    with reading(settings, refresh=False) as store:
        answer.before_query(settings.db_path)  # no process can write while this connection is open
        data = build(store, kind, f, opts["by"], opts["breakdown"])
        answer.after_query()
    text = render(kind, data, opts)
    sys.stdout.write(text)
    sys.stdout.flush()
    answer.save(text)


def build(store: Any, kind: str, f: ReportFilter, by: str | None, breakdown: bool) -> dict[str, Any]:
    """The report as the JSON contract shapes it."""
    if kind in _PERIOD:
        rows = period_rows(store, f, _PERIOD[kind], by=by, breakdown=breakdown)
        return {kind: rows, "totals": totals(store, f)}
    if kind == "session":
        rows = session_rows(store, f, by=by)
        _add_signals(store, rows)
        return {"sessions": rows, "totals": totals(store, f)}
    if kind == "model":
        return {"models": model_rows(store, f, by=by), "totals": totals(store, f)}
    return {"blocks": blocks(store, f), "totals": totals(store, f)}


def _add_signals(store: Any, rows: list[dict[str, Any]]) -> None:
    """Subagents and switches per session, once the signals engine provides them."""
    ids = [r["session_id"] for r in rows]
    try:
        from tiermon.ingest.signals.views import session_subagents, session_switches
    except ImportError:
        subagents: dict[str, list[Any]] = {}
        switches: dict[str, list[Any]] = {}
    else:
        subagents = session_subagents(store, ids)
        switches = session_switches(store, ids)
    for row in rows:
        row["subagents"] = subagents.get(row["session_id"], [])
        row["switches"] = switches.get(row["session_id"], [])


def flat_rows(kind: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV line per row; nested lists are dropped, per-model rows expanded."""
    key = next(k for k in data if k != "totals")
    out: list[dict[str, Any]] = []
    for row in data[key]:
        base = {k: v for k, v in row.items() if not isinstance(v, (list, dict))}
        models = row.get("models") if kind != "model" else None
        if models and isinstance(models[0], dict):
            for m in models:
                out.append({**base, **{f"model_{k}" if k in base else k: v for k, v in m.items()}})
        else:
            if isinstance(row.get("models"), list) and row["models"] and not isinstance(row["models"][0], dict):
                base["models"] = " ".join(row["models"])
            out.append(base)
    return out


def print_table(out: Console, kind: str, data: dict[str, Any], breakdown: bool) -> None:
    key = next(k for k in data if k != "totals")
    rows = data[key]
    if not rows:
        out.print("No usage in this range.")
        return
    table = Table(title=f"tiermon {kind} report", title_justify="left", show_footer=True, box=box.SIMPLE_HEAD)
    first = {"session": "session", "model": "model", "blocks": "block start"}.get(kind, "period")
    grouped = any("group" in r for r in rows)
    table.add_column(first, footer="Total", no_wrap=True)
    if grouped:
        table.add_column("group", overflow="ellipsis", max_width=24)
    if kind == "session":
        table.add_column("project", overflow="ellipsis", max_width=20, no_wrap=True)
    t = data["totals"]
    for name, field in (("req", "requests"), ("input", "input_tokens"), ("output", "output_tokens"),
                        ("c.read", "cache_read_tokens"), ("w.5m", "cache_write_5m_tokens"),
                        ("w.1h", "cache_write_1h_tokens")):  # fmt: skip
        table.add_column(name, justify="right", no_wrap=True,
                         footer=tokens(t.get(field)) if field != "requests" else str(t["requests"]))
    table.add_column("cost", justify="right", no_wrap=True, footer=usd(t["cost_usd"]))
    for row in rows:
        _add_row(table, kind, row, grouped)
        if breakdown and kind not in ("model", "blocks"):
            for m in row.get("models", []):
                table.add_row(*_model_cells(m, grouped, kind), style="dim")
    out.print(table)
    notes = [ESTIMATE_NOTE]
    if t["unpriced_models"]:
        names = ", ".join(f"{m['model']} ({m['requests']} requests)" for m in t["unpriced_models"])
        notes.append(f"Unpriced, not in the totals: {names}. Add them to prices.toml (see `tiermon prices`).")
    out.print(Text(" ".join(notes), style="dim"))


def _label(kind: str, row: dict[str, Any]) -> str:
    if kind == "session":
        return str(row["session_id"])[:8] if not str(row["session_id"]).startswith("api:") else str(row["session_id"])
    if kind == "model":
        return str(row["model"])
    if kind == "blocks":
        start: datetime = row["start"]
        return start.strftime("%Y-%m-%d %H:%M") + (" (active)" if row["is_active"] else "")
    return str(row["period"]) if row["period"] is not None else NO_TIME


def _add_row(table: Table, kind: str, row: dict[str, Any], grouped: bool) -> None:
    cells: list[Any] = [Text(_label(kind, row))]
    if grouped:
        cells.append(Text(str(row.get("group") or "")))
    if kind == "session":
        cells.append(Text(project_name(row.get("project"))))
    if kind == "blocks":
        cells += [str(row["requests"]), "", "", "", "", tokens(row["tokens"]), usd(row["cost_usd"])]
    else:
        cells += [str(row["requests"])] + [tokens(row.get(f)) for f in (
            "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
            "cache_write_1h_tokens")]  # fmt: skip
        cells.append(_cost_cell(row))
    table.add_row(*cells)


def _cost_cell(row: dict[str, Any]) -> str:
    """Dollars, `unpriced` when nothing has a price, and a `+?` when part of it has none."""
    if row.get("cost_usd") is None or row.get("priced") is False:
        return "unpriced"
    return usd(row["cost_usd"]) + (" +?" if row.get("unpriced_requests") else "")


def _model_cells(m: dict[str, Any], grouped: bool, kind: str) -> list[Any]:
    cells: list[Any] = [Text("  " + short_model(m["model"]))]
    if grouped:
        cells.append("")
    if kind == "session":
        cells.append("")
    cells += [str(m["requests"])] + [tokens(m.get(f)) for f in (
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
        "cache_write_1h_tokens")]  # fmt: skip
    cells.append(usd(m["cost_usd"]) if m.get("priced") else "unpriced")
    return cells


def short_model(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `sonnet-4-5`: the part that tells models apart."""
    from tiermon.ingest.models import model_base

    return model_base(model).removeprefix("claude-")


def project_name(path: str | None) -> str:
    """The last part of a project's path: what people call the project."""
    if not path:
        return ""
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def register(group: click.Group) -> None:
    group.add_command(report)
