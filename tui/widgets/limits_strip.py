"""Provides limits_text: the plan windows (SPEC §4.12) as one line for the Live header.

Each window: its use as a bar with the pace marked (`│` where an even pace
would be by now), the share, the countdown and local time of the reset, and
when it runs full at the current burn. An estimate says so; a window with no
reading is not shown at all — unknown is not 0 %.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.ingest.limits import pace
from tiermon.tui.widgets.cells import plain

BAR = 8
AGENT_NAMES = {"claude-code": "Claude", "codex": "Codex"}


def limits_text(rows: list[dict[str, Any]], now: datetime, zone: tzinfo) -> Text:
    """The Limits strip; empty Text when there is no reading of any window."""
    text = Text(no_wrap=True, overflow="ellipsis")
    agents = {r["agent"] for r in rows}
    for row in rows:
        if text:
            text.append("  │  ", style="dim")
        if len(agents) > 1:
            name = AGENT_NAMES.get(row["agent"]) or row["agent"]
            text.append_text(plain(name, 10, style="bold"))
            text.append(" ")
        text.append_text(window_text(row, now, zone))
    return text


def window_text(row: dict[str, Any], now: datetime, zone: tzinfo) -> Text:
    used: float | None = row["used_percent"]
    expected = pace(row, now)
    text = Text.assemble((row["window"], "bold"), " ")
    if used is None:
        text.append("block ends ", style="dim")
    else:
        text.append_text(_bar(used, expected))
        style = "bold red" if used >= 90 else "yellow" if expected is not None and used > expected else "green"
        text.append(f" {used:.0f}%", style=style)
    resets: datetime = row["resets_at"]
    text.append(f" ↻{fmt.countdown((resets - now).total_seconds())} ({_clock(resets, now, zone)})")
    full = row.get("projected_full_at")
    if full is not None:
        text.append(f" full {_clock(full, now, zone)}", style="bold red")
    if row["source"].startswith("estimate"):
        text.append(" est.", style="dim italic")
    return text


def _bar(used: float, expected: float | None) -> Text:
    filled = round(min(max(used, 0.0), 100.0) / 100 * BAR)
    marker = min(int((expected or 0) / 100 * BAR), BAR - 1) if expected is not None else None
    bar = Text()
    for i in range(BAR):
        if i == marker:
            bar.append("│" if i >= filled else "┃", style="bold white" if i >= filled else "bold")
        else:
            bar.append("█" if i < filled else "░", style="cyan" if i < filled else "dim")
    return bar


def _clock(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """`14:05` today, `Sat 14:05` within a week, else the date: the reset in the user's own time."""
    local = fmt.timestamp(moment, zone)
    if moment.date() == now.date() and (moment - now).total_seconds() < 86400:
        return local[-5:]
    if (moment - now).days < 7:
        from datetime import UTC

        aware = moment.replace(tzinfo=UTC).astimezone(zone)
        return aware.strftime("%a %H:%M")
    return local
