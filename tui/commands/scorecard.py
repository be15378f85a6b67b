"""`tiermon scorecard` and `tiermon replay`: models side by side on the user's own work (SPEC §4.10, §4.11)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.ingest.pricing import load_price_table
from tiermon.ingest.replay import ALIASES, NOTE, POLICIES, PolicyError, replay
from tiermon.ingest.scorecard import GROUP_BY, MIN_TURNS, RATES, scorecard, turn_frame
from tiermon.tui.commands.common import (
    agent_values,
    console,
    csv_text,
    emit_json,
    global_options,
    reading,
    settings_from,
)
from tiermon.tui.commands.report import filter_options, report_filter
from tiermon.tui.commands.report_table import short_model

SCORECARD_NOTE = (
    f"Rates per 100 with their 95 % Wilson interval; '*' marks a model with fewer than {MIN_TURNS} turns, "
    "too few to compare. A turn runs from one typed prompt to the next; 'struggle' is a thrash, a needless "
    "ask, re-read drift, an interrupt or 3+ failed attempts."
)
SHORT_RATES = {
    "failed_per_100_calls": "failed", "struggle_per_100_turns": "struggle", "thrash_per_100_turns": "thrash",
    "needless_asks_per_100_turns": "asks", "rereads_per_100_turns": "re-read", "interrupts_per_100_turns": "interrupt",
    "compactions_per_100_turns": "compact", "recovered_per_100_escalations": "stopped",
}  # fmt: skip


@click.command("scorecard")
@filter_options(list(GROUP_BY))
@global_options
@click.pass_context
def scorecard_command(ctx: click.Context, /, **opts: Any) -> None:
    """Each model's turns, cost and struggle rates on your own work, with 95 % intervals (SPEC §4.10)."""
    settings = settings_from(ctx)
    f = replace(report_filter(opts), agents=agent_values(settings))
    with reading(settings) as store:
        rows = scorecard(turn_frame(store, f), by=opts["by"])
    if opts["as_json"]:
        emit_json({"models": rows, "min_turns": MIN_TURNS, "note": SCORECARD_NOTE})
        return
    if opts["as_csv"]:
        click.echo(csv_text([flat(r) for r in rows]), nl=False)
        return
    out = console()
    if not rows:
        out.print("No turns in this range.")
        return
    print_scorecard(out, rows)


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """One CSV line: each rate as its count, base, value and interval columns."""
    base = {k: v for k, v in row.items() if k != "rates"}
    for key, rate in row["rates"].items():
        base.update({f"{key}_{part}": value for part, value in rate.items()})
    return base


def print_scorecard(out: Console, rows: list[dict[str, Any]]) -> None:
    """Two tables that fit 120 columns: what each model did and cost, then its rates with intervals."""
    work = Table(title="Models on your work", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("model", "rung", "agent", "turns", "$/turn", "p90", "out/turn", "calls/turn", "cache",
                 "subagent", "cost"):  # fmt: skip
        work.add_column(name, justify="left" if name in ("model", "rung", "agent") else "right", no_wrap=True,
                        min_width=8 if name == "cost" else None)  # fmt: skip
    for r in rows:
        work.add_row(
            _name(r), r["rung"] or "", r["agent"] or "", str(r["turns"]), fmt.money(r["cost_per_turn_median"]),
            fmt.money(r["cost_per_turn_p90"]), fmt.tokens(int(r["output_per_turn"])), f"{r['tool_calls_per_turn']:.1f}",
            _share(r["cache_hit_ratio"]), _share(r["subagent_share"]),
            fmt.money_part(r["cost_usd"], r["unpriced_tokens"]),
        )  # fmt: skip
    out.print(work)
    rates = Table(title="Rates per 100 (95 % interval)", title_justify="left", box=box.SIMPLE_HEAD)
    rates.add_column("model", no_wrap=True)
    for key, *_ in RATES:
        rates.add_column(SHORT_RATES[key], justify="right")
    for r in rows:
        rates.add_row(_name(r), *(rate_cell(r["rates"][key]) for key, *_ in RATES))
    out.print(rates)
    out.print(Text(SCORECARD_NOTE + " $/turn is the median cost of a turn, p90 its 90th percentile. "
                   + _legend(), style="dim"))


def _name(r: dict[str, Any]) -> Text:
    name = short_model(r["model"]) if r["model"] and r["model"] != "*" else " / ".join(
        str(r[k]) for k in GROUP_BY if r[k] != "*"
    )
    return Text(name + (" *" if r["too_few_turns"] else ""), style="dim" if r["too_few_turns"] else "")


def rate_cell(rate: dict[str, Any]) -> Text:
    """`7.4 (4.2–12.8)` over `11/148`: the rate, its interval and the counts it rests on."""
    if rate["per_100"] is None:
        return Text("–", style="dim")
    text = Text(f"{rate['per_100']:.0f}")
    text.append(f" ({rate['low']:.0f}–{rate['high']:.0f})", style="dim")
    text.append(f"\n{rate['count']}/{rate['base']}", style="dim")
    return text


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _legend() -> str:
    return ("Columns: failed = failed attempts per 100 tool calls (a parallel batch fails once); per 100 turns: "
            "struggling turns, thrash, needless asks, re-read drift, interrupts, compactions; stopped = of the "
            "struggling turns the session later moved up a rung from, how many stopped struggling.")  # fmt: skip


@click.command("replay")
@click.option("--policy", "policies", multiple=True, type=click.Choice([*POLICIES, *ALIASES]),
              help="A tier policy (repeatable; default: every policy).")  # fmt: skip
@filter_options(list(GROUP_BY))
@global_options
@click.pass_context
def replay_command(ctx: click.Context, /, policies: tuple[str, ...], **opts: Any) -> None:
    """What the period would have cost under a tier policy, beside what it did cost (SPEC §4.11)."""
    settings = settings_from(ctx)
    f = replace(report_filter(opts), agents=agent_values(settings))
    prices = load_price_table(settings.price_file)
    with reading(settings) as store:
        turns = turn_frame(store, f)
    try:
        results = [replay(turns, prices, p) for p in (policies or POLICIES)]
    except PolicyError as exc:
        raise click.BadParameter(str(exc), param_hint="--policy") from exc
    if opts["as_json"]:
        emit_json({"policies": results, "note": NOTE})
        return
    if opts["as_csv"]:
        click.echo(csv_text([{k: v for k, v in r.items() if not isinstance(v, dict)} for r in results]), nl=False)
        return
    out = console()
    if not turns.height:
        out.print("No turns in this range.")
        return
    print_replay(out, results)


def print_replay(out: Console, results: list[dict[str, Any]]) -> None:
    table = Table(title="Policy replay (a re-pricing)", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("policy", "spent", "under policy", "difference", "turns", "re-priced", "down", "up",
                 "struggle predicted on moved-down turns"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("policy", "struggle predicted on moved-down turns")
                         else "right", no_wrap=name != "struggle predicted on moved-down turns")  # fmt: skip
    for r in results:
        table.add_row(
            r["policy"], fmt.money(r["actual_usd"]), fmt.money(r["replayed_usd"]),
            fmt.money(r["difference_usd"], signed=True), str(r["turns"]), str(r["turns_repriced"]),
            str(r["turns_moved_down"]), str(r["turns_moved_up"]), _predicted(r["predicted_struggle"]),
        )  # fmt: skip
    out.print(table)
    unpriced = max((r["not_comparable_turns"] for r in results), default=0)
    tail = f" {unpriced} turn(s) without a price on either side are left out of both sums." if unpriced else ""
    out.print(Text(NOTE + tail, style="dim"))


def _predicted(predicted: dict[str, Any]) -> str:
    parts = []
    for rung, p in predicted.items():
        rate = p["struggle_rate"]
        if rate is None:
            parts.append(f"{rung}: {p['turns_moved_down']} turns, no {rung} turns measured")
        else:
            parts.append(
                f"{rung}: ~{p['expected_struggling_turns']:g} of {p['turns_moved_down']} "
                f"({rate['per_100']:.0f}/100, {rate['low']:.0f}–{rate['high']:.0f}; n={rate['base']})"
            )
    return "; ".join(parts) or "–"


def register(group: click.Group) -> None:
    group.add_command(scorecard_command)
    group.add_command(replay_command)
