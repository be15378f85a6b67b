"""Plan limits (SPEC §4.12): each 5-hour and weekly window's use, from the best reading present.

Readings are `limit` events (see ingest/rows.py): from the status line
(`trigger` statusline), Codex `rate_limits`, and limit hits in transcripts.
Per agent and window the newest reading wins; one whose reset has passed is
void, and a window with no reading is unknown — never 0 %. Where Claude Code
has no 5-hour reading, the 5-hour block in progress (ingest/reports.py) gives
its reset time as a labelled estimate, with no share (tiermon cannot know the
plan's quota from spend alone).

The projection is the pace of the readings within the same window (same
reset time): from the first to the newest, how fast the share grew, carried
forward to 100 %; none when it would not be reached before the reset.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from tiermon.ingest.reports import BLOCK_HOURS, ReportFilter, blocks
from tiermon.ingest.store import Store
from tiermon.ingest.times import naive_utc

LOOKBACK = timedelta(days=8)
"""Readings older than the longest window (a week) plus a day cannot describe a window now."""
ESTIMATE = "estimate (5-hour block)"
ORDER = {"5h": 0, "7d": 1}
LIMIT_FIELDS = ("agent", "window", "used_percent", "resets_at", "source", "observed_at", "projected_full_at")
"""The keys of each `tiermon limits --json` window (SPEC §5), in order."""


def window_length(window: str) -> timedelta | None:
    """`5h`, `7d`, `90m` as a span; None for a name that is none of these."""
    match = re.fullmatch(r"(\d{1,6})([mhd])", window or "")
    if not match:
        return None
    n, unit = int(match.group(1)), match.group(2)
    return timedelta(minutes=n) if unit == "m" else timedelta(hours=n) if unit == "h" else timedelta(days=n)


def plan_limits(store: Store, *, now: datetime, agents: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One row per (agent, window) with a live reading, plus the block estimate; keys LIMIT_FIELDS."""
    rows = store.query(
        """SELECT agent, subtype, ts, pre_tokens, text, trigger FROM events
           WHERE kind = 'limit' AND ts >= ? AND ts <= ? ORDER BY ts""",
        [now - LOOKBACK, now + timedelta(minutes=5)],
    )
    series: dict[tuple[str, str], list[tuple[datetime, float, datetime, str]]] = {}
    for agent, window, observed, used_bp, resets_text, trigger in rows:
        resets = naive_utc(resets_text.replace("Z", "+00:00")) if isinstance(resets_text, str) else None
        if resets is None or used_bp is None or not window or (agents and agent not in agents):
            continue
        series.setdefault((agent or "?", window), []).append((observed, used_bp / 100, resets, trigger or "?"))
    out = [row for key, readings in series.items() if (row := _window(key, readings, now)) is not None]
    if (not agents or "claude-code" in agents) and not any(r["agent"] == "claude-code" and r["window"] == "5h"
                                                           for r in out):  # fmt: skip
        estimate = _block_estimate(store, now)
        if estimate is not None:
            out.append(estimate)
    return sorted(out, key=lambda r: (r["agent"], ORDER.get(r["window"], 9), r["window"]))


def _window(
    key: tuple[str, str], readings: list[tuple[datetime, float, datetime, str]], now: datetime
) -> dict[str, Any] | None:
    observed, used, resets, source = readings[-1]
    if resets <= now:
        return None  # the window has reset since: its reading is void
    same = [r for r in readings if r[2] == resets]
    return {
        "agent": key[0], "window": key[1], "used_percent": round(used, 2), "resets_at": resets,
        "source": source, "observed_at": observed, "projected_full_at": _projection(same, resets),
    }  # fmt: skip


def _projection(same: list[tuple[datetime, float, datetime, str]], resets: datetime) -> datetime | None:
    """When the share reaches 100 % at the pace between the window's first and newest reading."""
    first, last = same[0], same[-1]
    if last[1] >= 100:
        return last[0]
    hours = (last[0] - first[0]).total_seconds() / 3600
    if hours <= 0 or last[1] <= first[1]:
        return None
    full = last[0] + timedelta(seconds=round((100 - last[1]) * hours * 3600 / (last[1] - first[1])))
    return full.replace(microsecond=0) if full < resets else None


def _block_estimate(store: Store, now: datetime) -> dict[str, Any] | None:
    recent = ReportFilter(since=(now - timedelta(days=1)).date(), agents=("claude-code",))
    active = [b for b in blocks(store, recent, now) if b["is_active"]]
    if not active:
        return None
    block = active[-1]
    return {
        "agent": "claude-code", "window": f"{BLOCK_HOURS}h", "used_percent": None, "resets_at": block["end"],
        "source": ESTIMATE, "observed_at": block["actual_end"], "projected_full_at": None,
    }  # fmt: skip


def pace(row: dict[str, Any], now: datetime) -> float | None:
    """The share of the window's time already gone (0–100): where an even pace would put its use."""
    length = window_length(row["window"])
    if length is None:
        return None
    left: float = (row["resets_at"] - now) / length
    return round(min(max(1 - left, 0.0), 1.0) * 100, 1)
