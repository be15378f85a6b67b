"""Plan-limit hits in Claude Code transcripts, as `limit` readings (SPEC §4.12).

When a plan window runs out, Claude Code writes an assistant entry with
`isApiErrorMessage` (and `error: "rate_limit"`) whose text names the window
and its reset as a clock time, e.g. "You've hit your session limit · resets
3:45pm (Europe/Berlin)", or, in older versions, "Claude AI usage limit
reached|1750000000". Such a line says: this window is at 100 % until then.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tiermon.ingest.zone import local_timezone

_HIT = re.compile(
    r"(?:(?:hit|reached) your\s+(?P<what>[\w -]{0,30}?)\s*limit|(?P<other>[\w-]{1,20})\s+limit reached)"
    r"\b.{0,12}?resets\s+"
    r"(?:(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}),?\s+(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]m)?(?:\s*\((?P<zone>[\w/+-]{1,40})\))?",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"usage limit reached\|(?P<epoch>\d{9,11})", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
FULL_BP = 10_000
"""A hit is a window used up: 100 % in basis points."""


def limit_hit(text: str | None, ts: datetime | None) -> tuple[str, int, str] | None:
    """(window, used share in basis points, reset ISO-8601 UTC) of a limit-hit message, else None."""
    if not text or ts is None:
        return None
    at = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    epoch = _EPOCH.search(text)
    if epoch:
        resets = datetime.fromtimestamp(int(epoch.group("epoch")), UTC)
        return "5h", FULL_BP, _iso(resets)
    match = _HIT.search(text)
    if not match:
        return None
    what = (match.group("what") or match.group("other") or "").lower()
    window = "7d" if any(w in what for w in ("week", "opus", "sonnet")) else "5h"
    reset = _reset_time(match, at)
    return (window, FULL_BP, _iso(reset)) if reset is not None else None


def _reset_time(match: re.Match[str], at: datetime) -> datetime | None:
    zone = _zone(match.group("zone"))
    hour, minute = int(match.group("hour")), int(match.group("minute") or 0)
    ampm = (match.group("ampm") or "").lower()
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    local = at.astimezone(zone)
    if match.group("month") and match.group("month").lower()[:3] in _MONTHS:
        month = _MONTHS.index(match.group("month").lower()[:3]) + 1
        try:
            moment = local.replace(month=month, day=int(match.group("day")), hour=hour, minute=minute, second=0,
                                   microsecond=0)  # fmt: skip
        except ValueError:
            return None
        if moment < local:
            moment = moment.replace(year=moment.year + 1)
        return moment.astimezone(UTC)
    moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment <= local:
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


def _zone(name: str | None) -> tzinfo:
    for candidate in (name, local_timezone()):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
