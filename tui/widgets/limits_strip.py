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


def limits_text(rows: list[dict[str, Any]], now: datetime, zone: tzinfo, width: int | None = None) -> Text:
    """The Limits strip; empty Text when there is no reading of any window.

    On one line when it fits `width` (cells); else with shorter bars and without the resets'
    clock times; else one window per line, in full, so nothing is cut at 80 columns.
    """
    named = len({r["agent"] for r in rows}) > 1
    for compact in (False, True):
        text = _line(rows, now, zone, named=named, compact=compact)
        if width is None or text.cell_len <= width:
            return text
    return Text("\n", no_wrap=True, overflow="ellipsis").join(
        _line([row], now, zone, named=named, compact=False) for row in rows
    )


def _line(rows: list[dict[str, Any]], now: datetime, zone: tzinfo, *, named: bool, compact: bool) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for row in rows:
        if text:
            text.append("  │  " if not compact else " │ ", style="dim")
        if named:
            text.append_text(plain(AGENT_NAMES.get(row["agent"]) or row["agent"], 10, style="bold"))
            text.append(" ")
        text.append_text(window_text(row, now, zone, compact=compact))
    return text


def window_text(row: dict[str, Any], now: datetime, zone: tzinfo, *, compact: bool = False) -> Text:
    """One window; `compact` halves the bar and leaves out the reset's clock time (the countdown stays)."""
    used: float | None = row["used_percent"]
    expected = pace(row, now)
    text = Text.assemble((row["window"], "bold"), " ")
    if used is None:
        text.append("block ends ", style="dim")
    else:
        text.append_text(_bar(used, expected, BAR // 2 if compact else BAR))
        style = "bold red" if used >= 90 else "yellow" if expected is not None and used > expected else "green"
        text.append(f" {used:.0f}%", style=style)
    resets: datetime = row["resets_at"]
    text.append(f" ↻{fmt.countdown((resets - now).total_seconds())}")
    if not compact:
        text.append(f" ({_clock(resets, now, zone)})")
    full = row.get("projected_full_at")
    if full is not None:
        text.append(f" full {_clock(full, now, zone)}", style="bold red")
    if row["source"].startswith("estimate"):
        text.append(" est.", style="dim italic")
    return text


def _bar(used: float, expected: float | None, cells: int = BAR) -> Text:
    filled = round(min(max(used, 0.0), 100.0) / 100 * cells)
    marker = min(int((expected or 0) / 100 * cells), cells - 1) if expected is not None else None
    bar = Text()
    for i in range(cells):
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
