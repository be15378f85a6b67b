"""`tiermon report daily|weekly|monthly|session|model|blocks`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from tiermon.ingest.models import TIERS, ModelsFileError, load_price_aliases, price_alias
from tiermon.ingest.pricing import PriceTable, load_price_table
from tiermon.ingest.reports import (
    GROUPS,
    SIGNAL_GROUPS,
    ReportFilter,
    blocks,
    label_months,
    model_rows,
    period_rows,
    session_rows,
    totals,
)
from tiermon.ingest.sources import SOURCES
from tiermon.ingest.zone import local_timezone
from tiermon.tui.commands.common import (
    agent_values,
    console,
    csv_text,
    global_options,
    json_text,
    parse_day,
    reading,
    settings_from,
)

F = TypeVar("F", bound=Callable[..., Any])

KINDS = ("daily", "weekly", "monthly", "session", "model", "blocks")
_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month"}


def filter_options(groups: list[str]) -> Callable[[F], F]:
    """The options every spend report shares: range, filters, grouping and output format."""
    options = [
        click.option("--since", help="First day (YYYY-MM-DD or YYYYMMDD)."),
        click.option("--until", help="Last day, inclusive."),
        click.option("--project", help="Only projects whose path contains this."),
        click.option("--tier", type=click.Choice(list(TIERS))),
        click.option("--by", "by", type=click.Choice(groups), help="Group rows by this dimension."),
        click.option("--breakdown", is_flag=True, help="Per-model figures inside each row."),
        click.option("--source-kind", type=click.Choice(list(SOURCES)), help="Only rows of this source."),
        click.option("--session", help="Only this session (id or prefix)."),
        click.option("--json", "as_json", is_flag=True, help="JSON (SPEC §5 contract)."),
        click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per line."),
        click.option("--timezone", "tz", help="IANA zone that days are cut in (default: this machine's)."),
        click.option("--reprice-local", "reprice_tier", type=click.Choice(["haiku", "sonnet", "opus"]),
                     default="sonnet", show_default=True,
                     help="The tier whose reference model re-prices local models' tokens (model report)."),
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
    """The exact text `emit` writes."""
    if opts["as_json"]:
        return json_text(data)
    if opts["as_csv"]:
        return csv_text(flat_rows(kind, data))
    from tiermon.tui.commands.report_table import print_table  # rich only when a table is asked for

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
    settings = settings_from(ctx)
    f = replace(report_filter(opts), agents=agent_values(settings))
    with reading(settings, signals=reads_signals(kind, opts["by"])) as store:
        data = build(store, kind, f, opts["by"], opts["breakdown"])
    if kind == "model":
        prices = load_price_table(settings.price_file)
        reprice_local(data["models"], prices, opts["reprice_tier"])
        add_proxy_costs(data, prices, load_price_aliases(settings.models_file))
    emit(kind, data, opts)


def reads_signals(kind: str, by: str | None) -> bool:
    """Whether the report reads tables the signals keep: the session report carries each session's
    switches and subagents, and the signals name a session's project and an agent's type. Any other
    report reads responses alone, so its pass leaves the signals owed and answers sooner."""
    return kind == "session" or by in SIGNAL_GROUPS


def build(store: Any, kind: str, f: ReportFilter, by: str | None, breakdown: bool) -> dict[str, Any]:
    """The report as the JSON contract shapes it."""
    if kind in _PERIOD:
        rows = period_rows(store, f, _PERIOD[kind], by=by, breakdown=breakdown)
        if kind == "monthly":
            label_months(rows)
        return {kind: rows, "totals": totals(store, f)}
    if kind == "session":
        rows = session_rows(store, f, by=by)
        _add_signals(store, rows)
        return {"sessions": rows, "totals": totals(store, f)}
    if kind == "model":
        return {"models": model_rows(store, f, by=by), "totals": totals(store, f)}
    return {"blocks": blocks(store, f), "totals": totals(store, f)}


def reprice_local(rows: list[dict[str, Any]], prices: PriceTable, tier: str) -> None:
    """Give every local model's row what the same tokens would cost on `tier`'s reference model.

    Labelled as a re-pricing (SPEC §2.4): local requests cost nothing in API fees, and
    this does not predict what a hosted model would have done with the same work.
    """
    reference = prices.reference(tier)
    if reference is None:
        return
    for row in rows:
        if row.get("vendor") != "local":
            continue
        usd = _tokens_at(prices, reference.model, row)
        row["repriced"] = {
            "model": reference.model, "tier": tier, "cost_usd": round(usd, 6) if usd is not None else None,
            "label": f"re-pricing: the same tokens at {reference.model}'s list price, not a prediction",
        }


def _tokens_at(prices: PriceTable, model: str, row: dict[str, Any]) -> float | None:
    """A model row's tokens at `model`'s list price, priced as its number of average requests (long-context
    rates apply per request)."""
    n = max(int(row.get("requests") or 1), 1)
    one = prices.cost(
        model, input_tokens=row["input_tokens"] // n, output_tokens=row["output_tokens"] // n,
        cache_read=row["cache_read_tokens"] // n, write_5m=row["cache_write_5m_tokens"] // n,
        write_1h=row["cache_write_1h_tokens"] // n,
    )  # fmt: skip
    return one * n if one is not None else None


def add_proxy_costs(data: dict[str, Any], prices: PriceTable, aliases: tuple[tuple[str, str], ...]) -> None:
    """`proxy_cost_usd` for every unpriced model that models.toml prices as another id (SPEC §2.2):
    the same tokens at that id's list price, labelled as such; `cost_usd` stays null. The totals
    carry the sum of the proxies beside their own cost."""
    proxies = []
    for row in data["models"]:
        alias = price_alias(row["model"], aliases) if not row.get("priced") else None
        if alias is None:
            continue
        if prices.lookup(alias) is None:
            raise ModelsFileError(f"models.toml prices {row['model']} as {alias!r}, which the price table lacks")
        usd = _tokens_at(prices, alias, row)
        row["proxy_cost_usd"] = round(usd, 6) if usd is not None else None
        row["proxy"] = {"model": alias, "label": f"third-party list price of {alias}, not a price this model has"}
        proxies.append(row["proxy_cost_usd"] or 0.0)
    if proxies:
        data["totals"]["proxy_cost_usd"] = round(sum(proxies), 6)


def _add_signals(store: Any, rows: list[dict[str, Any]]) -> None:
    """Subagents and switches per session (SPEC §5 session report)."""
    from tiermon.ingest.signals.views import session_subagents, session_switches

    ids = [r["session_id"] for r in rows]
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


def register(group: click.Group) -> None:
    group.add_command(report)
