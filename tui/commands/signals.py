"""`tiermon alerts`, `tiermon advise` and `tiermon show SESSION`: the signals of SPEC §4 on the command line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.ingest.kinds import with_kind_advice
from tiermon.ingest.models import model_base
from tiermon.ingest.sanitize import printable
from tiermon.ingest.signals.views import (
    ADVICE_KINDS,
    ADVICE_NOTE,
    ALERT_KINDS,
    SEVERITIES,
    SessionNotFound,
    list_advice,
    list_alerts,
    session_timeline,
)
from tiermon.tui.commands.common import (
    BadArgument,
    console,
    emit_json,
    global_options,
    parse_day,
    reading,
    settings_from,
)

F = TypeVar("F", bound=Callable[..., Any])

_SEVERITY_STYLE = {"warn": "bold yellow", "info": "dim"}
_SHORT = "%m-%d %H:%M"
MODEL_RUNS_WIDTH = 26
"""Widest the Turns table's model column gets; `--responses` or --json give every model in full."""
WIDE = 110
"""Below this many columns the advice reason goes under its row instead of beside it."""


def _window_options(kinds: tuple[str, ...]) -> Callable[[F], F]:
    """--since/--until/--session/--kind/--limit/--json/--timezone, shared by alerts and advise."""

    def decorate(func: F) -> F:
        options = [
            click.option("--since", help="First day (YYYY-MM-DD or YYYYMMDD)."),
            click.option("--until", help="Last day, inclusive."),
            click.option("--session", help="Only this session (id or prefix)."),
            click.option("--kind", "kinds", type=click.Choice(kinds), multiple=True,
                         help="Only this kind (repeatable)."),
            click.option("--limit", type=click.IntRange(min=1), help="At most this many rows, newest first."),
            click.option("--json", "as_json", is_flag=True, help="JSON (SPEC §5 contract)."),
            click.option("--timezone", "tz",
                         help="IANA zone that days are cut and times shown in (default: this machine's)."),
        ]  # fmt: skip
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command("alerts")
@_window_options(ALERT_KINDS)
@click.option("--severity", type=click.Choice(SEVERITIES), help="Only info or only warn.")
@global_options
@click.pass_context
def alerts(ctx: click.Context, since: str | None, until: str | None, session: str | None, kinds: tuple[str, ...],
           limit: int | None, as_json: bool, tz: str | None, severity: str | None) -> None:  # fmt: skip
    """Model switches, thrash, question churn, context, re-reads, API errors and cache rebuilds (SPEC §4)."""
    zone = _zone(tz)
    lo, hi = _bounds(since, until, zone)
    with reading(settings_from(ctx)) as store:
        rows = list_alerts(
            store,
            since=lo,
            until=hi,
            session=session,
            kind=list(kinds),
            severity=severity,
            limit=limit,
        )
    if as_json:
        emit_json({"alerts": rows})
        return
    out = console()
    if not rows:
        out.print("No alerts.")
        return
    grid = _table(f"Alerts, newest first (times {_zone_name(zone)})")
    for col in ("when", "session", "turn", "kind", "sev", "what"):
        grid.add_column(col, justify="right" if col == "turn" else "left", no_wrap=col != "what")
    for r in rows:
        grid.add_row(_when(r["start"], zone, _SHORT), _sid(r), _turn(r), r["kind"],
                     Text(r["severity"], style=_SEVERITY_STYLE.get(r["severity"], "")), Text(r["message"]))  # fmt: skip
    out.print(grid)


@click.command("advise")
@_window_options(ADVICE_KINDS)
@global_options
@click.pass_context
def advise(ctx: click.Context, since: str | None, until: str | None, session: str | None, kinds: tuple[str, ...],
           limit: int | None, as_json: bool, tz: str | None) -> None:  # fmt: skip
    """Turns where a stronger model would have helped, or a cheaper one would have done (SPEC §4.7)."""
    zone = _zone(tz)
    lo, hi = _bounds(since, until, zone)
    settings = settings_from(ctx)
    with reading(settings) as store:
        rows = list_advice(
            store, since=lo, until=hi, session=session, kind=list(kinds), limit=limit
        )
        rows = with_kind_advice(rows, _kind_rows(store, settings), since=lo, until=hi, session=session,
                                kinds=list(kinds), limit=limit)  # fmt: skip
    if as_json:
        emit_json({"advice": rows, "note": ADVICE_NOTE})
        return
    out = console()
    if not rows:
        out.print("No advice.")
        return
    if out.width >= WIDE:
        out.print(_advice_table(rows, zone))
    else:
        _advice_blocks(out, rows, zone)
    models = sorted({f"{r['to_tier']} = {r['to_model']}" for r in rows})
    out.print(
        Text(
            f"alt cost: the same tokens on the reference model ({', '.join(models)}). {ADVICE_NOTE}",
            style="dim",
        )
    )


@click.command("show")
@click.argument("session_id", metavar="SESSION")
@click.option("--json", "as_json", is_flag=True, help="The whole timeline as JSON.")
@click.option("--responses", "each", is_flag=True, help="Also list every response with its model.")
@click.option(
    "--timezone", "tz", help="IANA zone that times are shown in (default: this machine's)."
)
@global_options
@click.pass_context
def show(ctx: click.Context, session_id: str, as_json: bool, each: bool, tz: str | None) -> None:
    """One session's timeline: turns, the model of each response, switches, subagents, alerts and advice."""
    zone = _zone(tz)
    with reading(settings_from(ctx)) as store:
        try:
            data = session_timeline(store, session_id)
        except SessionNotFound as exc:
            raise BadArgument(printable(str(exc), one_line=True)) from exc
    if as_json:
        emit_json(data)
        return
    print_timeline(console(), data, zone, responses=each)


def print_timeline(
    out: Console, data: dict[str, Any], zone: tzinfo, *, responses: bool = False
) -> None:
    s = data["session"]
    out.print(Text(f"Session {s['session_id']}", style="bold"))
    out.print(Text(f"  {s.get('project') or '?'}  branch {s.get('git_branch') or '-'}  "
                   f"{_when(s.get('start'), zone)} → {_when(s.get('end'), zone)} ({_zone_name(zone)})"))  # fmt: skip
    models = ", ".join(
        f"{m['model']} ×{m['requests']} {fmt.money(m['cost_usd'])}" for m in s.get("model_breakdown", [])
    )
    out.print(
        Text(
            f"  cost {fmt.money_part(s.get('cost_usd'), s.get('unpriced_tokens') or 0)}  (subagents "
            f"{fmt.money_part(s.get('subagent_cost_usd'), s.get('subagent_unpriced_tokens') or 0)})  {models}"
        )
    )
    if s.get("context_tokens") is not None:
        out.print(Text(f"  now on {s.get('current_model')}, context {fmt.tokens(s['context_tokens'])} of "
                       f"{fmt.tokens(s.get('context_limit') or s.get('context_window'))} (where it compacts), "
                       f"cache hit ratio {(s.get('cache_hit_ratio') or 0):.0%}"))  # fmt: skip
    runs = _model_runs(data, max(10, min(MODEL_RUNS_WIDTH, out.width - 68)))
    rows = [
        [str(t["turn"]), _when(t["start"], zone, "%H:%M"), runs.get(t["turn"], ""),
         str(t["responses"]), str(t["tool_calls"]), str(t["tool_errors"]),
         fmt.money_part(t["cost_usd"], t.get("unpriced_tokens") or 0),
         fmt.tokens(t["output_tokens"]), fmt.tokens(t["max_context"])]
        for t in data["turns"]
    ]  # fmt: skip
    prompts = [
        " ".join((t["prompt"] or "(before the first prompt)").split()) for t in data["turns"]
    ]
    # The prompt gets whatever width the figures leave, so the table never squeezes them.
    room = max(out.width - out.measure(_turn_table(rows, ["x"] * len(rows))).maximum - 1, 12)
    turns = _turn_table(rows, [p if len(p) <= room else p[: room - 1] + "…" for p in prompts])
    out.print(turns)
    if responses:
        out.print(_response_table(data["responses"], zone))
    _section(out, "Model switches", data["switches"], lambda w: (
        f"{_when(w['at'], zone)}  turn {w['turn']}  {w['from_model']} → {w['to_model']}  "
        f"{w['direction']}, {w['cause']}" + (f" ({w['detail']})" if w.get("detail") else "")))  # fmt: skip
    _section(out, "Subagents", data["subagents"], lambda a: (
        f"{a['agent_id']}  {a['agent_type']}  {a['model']}  ×{a['requests']}  {fmt.money(a['cost_usd'])}"
        + (f"  {a['description']}" if a.get("description") else "")))  # fmt: skip
    _section(out, "Compactions", data["compactions"], lambda c: (
        f"{_when(c['ts'], zone)}  {c['trigger'] or '?'}  "
        f"{fmt.tokens(c['pre_tokens'])} → {fmt.tokens(c['post_tokens'])}"))  # fmt: skip
    _section(out, "Alerts", data["alerts"], lambda a: (
        f"{_when(a['start'], zone)}  turn {a['turn']}  {a['severity']:4}  {a['kind']}: {a['message']}"))  # fmt: skip
    _section(out, "Advice", data["advice"], lambda a: (
        f"turn {a['turn']}  {a['kind']} {a['from_tier']}→{a['to_tier']}  {fmt.money(a['cost_usd'])} vs "
        f"{fmt.money(a['counterfactual_cost_usd'])} on {a['to_model']}  ({_saving(a)})  {a['reason']}"))  # fmt: skip
    if data["advice"]:
        out.print(Text(ADVICE_NOTE, style="dim"))


def _model_runs(data: dict[str, Any], width: int) -> dict[int, str]:
    """Per turn, the main chain's model of each response, run-length coded: `opus-4-6×3 haiku-4-5×40`."""
    starts = [(t["start"], t["turn"]) for t in data["turns"] if t["start"] is not None]
    runs: dict[int, list[list[Any]]] = {}
    for r in data["responses"]:
        if r["is_sidechain"] or r["ts"] is None:  # a response with no readable time belongs to no turn
            continue
        turn = next((n for start, n in reversed(starts) if start <= r["ts"]), 0)
        seq = runs.setdefault(turn, [])
        name = _short_model(r["model"])
        if seq and seq[-1][0] == name:
            seq[-1][1] += 1
        else:
            seq.append([name, 1])
    text = {n: " ".join(f"{m}×{k}" for m, k in seq) for n, seq in runs.items()}
    return {n: t if len(t) <= width else t[: width - 1] + "…" for n, t in text.items()}


def _response_table(rows: list[dict[str, Any]], zone: tzinfo) -> Table:
    table = _table("Responses")
    for col in ("time", "chain", "model", "context", "output", "cost"):
        table.add_column(
            col, justify="left" if col in ("time", "chain", "model") else "right", no_wrap=True
        )
    for r in rows:
        table.add_row(_when(r["ts"], zone, "%H:%M:%S"), r["agent_id"] or "main", r["model"],
                      fmt.tokens(r["context_tokens"]), fmt.tokens(r["output_tokens"]),
                      fmt.money(r["cost_usd"]))  # fmt: skip
    return table


def _turn_table(rows: list[list[str]], prompts: list[str]) -> Table:
    table = _table("Turns")
    for col in ("#", "start", "model", "resp", "tools", "err", "cost", "out", "ctx", "prompt"):
        table.add_column(
            col, justify="left" if col in ("start", "model", "prompt") else "right", no_wrap=True
        )
    for row, prompt in zip(rows, prompts, strict=True):
        table.add_row(*row, Text(prompt))
    return table


def _advice_table(rows: list[dict[str, Any]], zone: tzinfo) -> Table:
    grid = _table(f"Advice, newest first (times {_zone_name(zone)})")
    for col in ("when", "session", "turn", "advice", "cost", "alt cost", "saving", "why"):
        grid.add_column(col, justify="right" if col in ("turn", "cost", "alt cost", "saving") else "left",
                        no_wrap=col != "why")  # fmt: skip
    for r in rows:
        grid.add_row(_when(r["start"], zone, _SHORT), _sid(r), _turn(r),
                     f"{r['kind']} {r['from_tier']}→{r['to_tier']}", fmt.money(r["cost_usd"]),
                     fmt.money(r["counterfactual_cost_usd"]), _signed(r["saving_usd"]), Text(_why(r)))  # fmt: skip
    return grid


def _advice_blocks(out: Console, rows: list[dict[str, Any]], zone: tzinfo) -> None:
    """Advice for a narrow terminal: a heading line and the reason under it."""
    out.print(Text(f"Advice, newest first (times {_zone_name(zone)})", style="bold"))
    for r in rows:
        out.print(Text(f"{_when(r['start'], zone, _SHORT)}  {r['session_id'][:8]}  turn {r['turn']}  "
                       f"{r['kind']} {r['from_tier']}→{r['to_tier']}  {fmt.money(r['cost_usd'])} → "
                       f"{fmt.money(r['counterfactual_cost_usd'])}  saving {_signed(r['saving_usd'])}"))  # fmt: skip
        out.print(Text("    " + _why(r), style="dim"))


def _section(out: Console, title: str, rows: list[dict[str, Any]], line: Any) -> None:
    if not rows:
        return
    out.print(Text(title, style="bold"))
    for r in rows:
        out.print(Text("  " + line(r)))


def _table(title: str) -> Table:
    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0)
    )


def _saving(r: dict[str, Any]) -> str:
    saving = r.get("saving_usd")
    if saving is None:
        return ""
    if saving >= 0:
        return f"saves {fmt.money(saving)}"
    waste = (r.get("figures") or {}).get("waste_usd")
    return f"costs {fmt.money(-saving)} more" + (f" (waste {fmt.money(waste)})" if waste is not None else "")


def _signed(value: float | None) -> str:
    if value is None:
        return ""
    return fmt.money(value)


def _why(r: dict[str, Any]) -> str:
    waste = (r.get("figures") or {}).get("waste_usd")
    reason: str = r["reason"]
    return reason + (
        f" (waste in the struggling span {fmt.money(waste)})" if waste is not None else ""
    )


def _zone(tz: str | None) -> tzinfo:
    if not tz:
        return datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {tz!r} (use an IANA name such as Europe/Berlin)",
                                 param_hint="--timezone") from exc  # fmt: skip


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or datetime.now(zone).tzname() or "UTC")


def _kind_rows(store: Any, settings: Any) -> list[dict[str, Any]]:
    """De-escalation by kind over every stored turn (the comparison needs them all), priced as the run is."""
    from tiermon.ingest.kinds import kind_advice
    from tiermon.ingest.pricing import load_price_table
    from tiermon.ingest.reports import ReportFilter
    from tiermon.ingest.scorecard import turn_frame

    return kind_advice(turn_frame(store, ReportFilter()), load_price_table(settings.price_file))


def _bounds(
    since: str | None, until: str | None, zone: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """Days in `zone` as naive-UTC bounds: [start of since, end of until]."""
    lo, hi = parse_day(since, "--since"), parse_day(until, "--until")
    if lo and hi and lo > hi:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    return (_utc(lo, zone) if lo else None,
            _utc(hi + timedelta(days=1), zone) - timedelta(microseconds=1) if hi else None)  # fmt: skip


def _utc(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, zone).astimezone(UTC).replace(tzinfo=None)


def _when(moment: datetime | None, zone: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if moment is None:
        return ""
    return moment.replace(tzinfo=UTC).astimezone(zone).strftime(fmt)


def _short_model(model: str) -> str:
    """`claude-haiku-4-5-20251001` -> `haiku-4-5`: enough to tell models apart in a narrow column."""
    return model_base(model).removeprefix("claude-")


def register(group: click.Group) -> None:
    group.add_command(alerts)
    group.add_command(advise)
    group.add_command(show)


def _sid(row: dict[str, Any]) -> str:
    """A session as lists name it: the first 8 characters of an id, an API log's tag whole."""
    sid = str(row["session_id"])
    return sid if sid.startswith("api:") else sid[:8]


def _turn(row: dict[str, Any]) -> str:
    """The turn; blank where there is none, and for an API-log session (no prompts, so no turns)."""
    turn = row.get("turn")
    return "" if turn is None or (not turn and str(row["session_id"]).startswith("api:")) else str(turn)
