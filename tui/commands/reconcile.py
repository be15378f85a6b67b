"""`tiermon reconcile`: API-log spend against Anthropic's Admin API usage and cost reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import IO, Any

import click
from rich.table import Table
from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.ingest.reconcile import (
    AdminApi,
    ReconcileError,
    Report,
    Row,
    Tolerance,
    admin_key,
    base_url,
    fetch_theirs,
    reconcile as build_report,
)
from tiermon.tui.commands.common import console, emit_json, global_options, parse_day, reading, settings_from

DEFAULT_DAYS = 7
"""Range when --since is not given: the last week of UTC days, today included."""

_STATUS_STYLE = {"match": "green", "mismatch": "red", "missing-here": "yellow", "missing-there": "yellow"}


class ReconcileFailed(click.ClickException):
    """One line on stderr and exit 2, as every expected failure of tiermon ends."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"tiermon: error: {self.message}", err=True)


@click.command("reconcile")
@click.option("--since", help="First UTC day (YYYY-MM-DD or YYYYMMDD); default a week ago.")
@click.option("--until", help="Last UTC day, inclusive; default today.")
@click.option("--base-url", "url",
              help="Admin API base URL (default $ANTHROPIC_BASE_URL, else https://api.anthropic.com).")
@click.option("--tolerance", "pct", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Relative difference, in percent, that still matches.")
@click.option("--tolerance-usd", "usd_tol", type=click.FloatRange(min=0), default=0.01, show_default=True,
              help="Absolute cost difference that still matches.")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option("--fail-on-mismatch", is_flag=True, help="Exit 1 when any row is not a match.")
@global_options
@click.pass_context
def reconcile(ctx: click.Context, since: str | None, until: str | None, url: str | None, pct: float,
              usd_tol: float, as_json: bool, fail_on_mismatch: bool) -> None:  # fmt: skip
    """Compare API-log spend per UTC day and model with what Anthropic reports.

    Reads the Admin API usage and cost reports with the Admin key in
    $ANTHROPIC_ADMIN_KEY; tiermon's side is the --api-log traffic in the store.
    """
    first, last = _range(since, until)
    tolerance = Tolerance(pct=pct, usd=usd_tol)
    try:
        key = admin_key()
        with AdminApi(key, base_url(url)) as api:
            theirs = fetch_theirs(api, first, last)
    except ReconcileError as exc:
        raise ReconcileFailed(str(exc)) from None
    with reading(settings_from(ctx), signals=False) as store:  # API spend against responses alone
        report = build_report(store, theirs, first, last, tolerance)
    if as_json:
        emit_json(report.as_dict())
    else:
        print_report(report)
    if fail_on_mismatch and any(r.status != "match" for r in report.rows):
        ctx.exit(1)


def _range(since: str | None, until: str | None) -> tuple[date, date]:
    last = parse_day(until, "--until") or datetime.now(UTC).date()
    first = parse_day(since, "--since") or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    return first, last


def print_report(report: Report) -> None:
    out = console()
    if not report.rows:
        out.print(f"No API usage on either side from {report.since} to {report.until}.")
        return
    table = Table(title=f"tiermon reconcile {report.since} .. {report.until} (UTC days)",
                  title_justify="left", show_footer=True)  # fmt: skip
    totals = report.as_dict()["totals"]
    table.add_column("day", footer="Total")
    table.add_column("model")
    table.add_column("tokens ours", justify="right")
    table.add_column("tokens theirs", justify="right")
    table.add_column("cost ours", justify="right", footer=fmt.money(totals["cost_ours_usd"]))
    table.add_column("cost theirs", justify="right", footer=fmt.money(totals["cost_theirs_usd"]))
    table.add_column("delta", justify="right", footer=_signed(totals["cost_delta_usd"]))
    table.add_column("status")
    for row in report.rows:
        table.add_row(*_cells(row))
    out.print(table)
    out.print(Text(_note(report, totals), style="dim"))


def _cells(row: Row) -> list[Any]:
    status = Text(row.status, style=_STATUS_STYLE[row.status])
    if row.reasons:
        status.append(f" ({', '.join(_short(r) for r in row.reasons)})", style="dim")
    return [
        row.day.isoformat(),
        Text(row.model),
        f"{row.ours.tokens:,}" if row.ours else "-",
        f"{row.theirs.tokens:,}" if row.theirs else "-",
        fmt.money(row.ours.cost_usd) if row.ours else "-",
        fmt.money(row.theirs.cost_usd) if row.theirs else "-",
        _signed(row.cost_delta),
        status,
    ]


def _short(reason: str) -> str:
    return reason.removesuffix("_tokens").replace("cache_write_", "write ").replace("_", " ")


def _signed(value: float | None) -> str:
    return "n/a" if value is None else fmt.money(value, signed=True)


def _note(report: Report, totals: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in report.counts().items() if n)
    tol = report.tolerance
    parts = [
        f"{counts}. Match within {tol.pct:g}% or ${tol.usd:g} on cost and {tol.pct:g}% per token class.",
        "missing-here: billed but not in the API logs;",
        "missing-there: logged but not billed to this organisation.",
        "Ours are estimates at list price.",
    ]
    other = totals["other_cost_theirs_usd"]
    if other:
        parts.append(f"Non-token charges billed (web search, code execution): {fmt.money(other)}, not compared.")
    return " ".join(parts)


def register(group: click.Group) -> None:
    group.add_command(reconcile)
