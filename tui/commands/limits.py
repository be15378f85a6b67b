"""`tiermon limits`: each plan window's use, reset and projection (SPEC §4.12), as a table or JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from tiermon.ingest import formatting as fmt
from tiermon.ingest.limits import LIMIT_FIELDS, pace, plan_limits
from tiermon.ingest.zone import local_timezone
from tiermon.tui.commands.common import agent_values, console, emit_json, global_options, reading, settings_from

NO_READINGS = (
    "No plan-limit readings yet. Claude Code passes them to `tiermon statusline` (see the README), "
    "Codex writes them in its session logs."
)


@click.command("limits")
@click.option("--json", "as_json", is_flag=True, help='JSON: {"windows": [...]} (SPEC §5 contract).')
@global_options
@click.pass_context
def limits(ctx: click.Context, as_json: bool) -> None:
    """5-hour and weekly plan windows: use, pace, reset and projected time of hitting 100 %."""
    settings = settings_from(ctx)
    now = datetime.now(UTC).replace(tzinfo=None)
    with reading(settings) as store:  # status.json, which the status line reads, is written with the signals
        rows = plan_limits(store, now=now, agents=agent_values(settings))
    if as_json:
        emit_json({"windows": [json_row(r) for r in rows]})
        return
    print_limits(rows, now)


def json_row(row: dict[str, Any]) -> dict[str, Any]:
    """A window for JSON: the contract's keys only, times ISO-8601 UTC with their zone."""
    return {k: fmt.iso_utc(row[k]) if isinstance(row[k], datetime) else row[k] for k in LIMIT_FIELDS}


def print_limits(rows: list[dict[str, Any]], now: datetime) -> None:
    from zoneinfo import ZoneInfo

    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    if not rows:
        out.print(NO_READINGS)
        return
    zone = ZoneInfo(local_timezone())
    table = Table(box=box.SIMPLE_HEAD, title="Plan limits", title_justify="left")
    for name, justify in (("agent", "left"), ("window", "left"), ("used", "right"), ("pace", "right"),
                          ("resets", "right"), ("at (local)", "left"), ("full at", "left"), ("source", "left"),
                          ("read", "right")):  # fmt: skip
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in rows:
        used = row["used_percent"]
        expected = pace(row, now)
        full = row["projected_full_at"]
        table.add_row(
            row["agent"], row["window"], "unknown" if used is None else f"{used:.0f} %",
            "–" if expected is None else f"{expected:.0f} %", fmt.countdown((row["resets_at"] - now).total_seconds()),
            fmt.timestamp(row["resets_at"], zone), fmt.timestamp(full, zone) if full else "–", row["source"],
            fmt.ago(row["observed_at"], now),
        )
    out.print(table)
    out.print(Text("pace: the share of the window's time gone; use above it runs out before the reset. "
                   "A window with no reading is unknown, not 0 %.", style="dim"))  # fmt: skip


def register(group: click.Group) -> None:
    group.add_command(limits)
