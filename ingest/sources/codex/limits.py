"""Plan-limit readings from `token_count.rate_limits` (formats/codex.md §6) as `limit` event fields.

A window is named by its length, not its position (`primary` may hold the
weekly window): 300 min -> `5h`, 10080 -> `7d`, else `<n>m`. The used share
is stored in basis points; the reset time as ISO-8601 UTC, from `resets_at`
(unix seconds) or `resets_in_seconds` after the line's time. A reading equal
to the last one of the same limit and window is not repeated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tiermon.ingest.sources.codex.state import FileState

TRIGGER = "codex"
WINDOW_NAMES = {300: "5h", 10080: "7d"}
RESET_SLACK = 60
"""Seconds a reset time may move between readings and still be the same window (Codex re-rounds it)."""


def limit_readings(rate_limits: object, ts: datetime | None, state: FileState) -> list[dict[str, Any]]:
    """The new readings of one `rate_limits` object: fields of `limit` events."""
    if not isinstance(rate_limits, dict):
        return []
    limit_id = rate_limits.get("limit_id") if isinstance(rate_limits.get("limit_id"), str) else None
    readings = []
    for window in _windows(rate_limits):
        reading = _reading(window, ts)
        if reading is None:
            continue
        subtype, points, resets = reading
        slot = f"{limit_id or ''}:{subtype}"
        if not _changed(state.limits.get(slot), points, resets):
            continue
        state.limits[slot] = f"{points}@{resets if resets is not None else ''}"
        text = datetime.fromtimestamp(resets, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if resets is not None else None
        readings.append({"subtype": subtype, "name": limit_id, "pre_tokens": points, "text": text, "trigger": TRIGGER})
    return readings


def depends_on_time(rate_limits: object) -> bool:
    """Whether the readings of `rate_limits` depend on the line's time (a reset given as seconds from now)."""
    if not isinstance(rate_limits, dict):
        return False
    if any(k.endswith("resets_in_seconds") for k in rate_limits):
        return True
    return any(isinstance(w, dict) and "resets_in_seconds" in w for w in rate_limits.values())


def _windows(rate_limits: dict[str, Any]) -> list[dict[str, Any]]:
    """`primary`/`secondary` objects, or the oldest flat shape rebuilt as such."""
    found = [w for w in (rate_limits.get("primary"), rate_limits.get("secondary")) if isinstance(w, dict)]
    if found:
        return found
    flat = []
    for side in ("primary", "secondary"):
        if f"{side}_used_percent" in rate_limits:
            flat.append({
                "used_percent": rate_limits.get(f"{side}_used_percent"),
                "window_minutes": rate_limits.get(f"{side}_window_minutes"),
                "resets_in_seconds": rate_limits.get(f"{side}_resets_in_seconds"),
            })  # fmt: skip
    return flat


def _reading(window: dict[str, Any], ts: datetime | None) -> tuple[str, int, int | None] | None:
    """(window name, used basis points, reset unix seconds) or None when the window is unreadable."""
    used, minutes = window.get("used_percent"), window.get("window_minutes")
    if not isinstance(used, (int, float)) or isinstance(used, bool) or not 0 <= used <= 1000:
        return None
    if type(minutes) is not int or minutes <= 0:
        return None
    resets: int | None = None
    if _number(window.get("resets_at")) and 0 < window["resets_at"] < 2**33:
        resets = int(window["resets_at"])
    elif _number(window.get("resets_in_seconds")) and ts is not None and 0 <= window["resets_in_seconds"] < 2**31:
        moment = ts.replace(tzinfo=UTC) + timedelta(seconds=window["resets_in_seconds"])
        resets = int(moment.timestamp())
    return WINDOW_NAMES.get(minutes, f"{minutes}m"), round(used * 100), resets


def _changed(before: str | None, points: int, resets: int | None) -> bool:
    if before is None:
        return True
    old_points, _, old_resets = before.partition("@")
    if int(old_points) != points:
        return True
    if resets is None or not old_resets:
        return (resets is None) != (not old_resets)
    return abs(int(old_resets) - resets) > RESET_SLACK


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
