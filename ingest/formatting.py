"""One way to write money, token counts, durations and times for people: CLI, dashboard, HTML, alerts.

Plain strings only, so `ingest/` (alert messages, the HTML export) and the
TUI share them; the TUI wraps them in Rich `Text` where it wants colour.

- Money: `$1,234.56`, two decimals with thousands separators from one cent
  up; an amount under a cent keeps four decimals, `$0.0042`, so a cheap
  call never reads as free (below $0.00005 it is `$0.00`). Negative: `-$1.20`; `signed=True` also
  writes `+$1.20`. No price at all is `unpriced`, never `$0.00` (SPEC §3).
- Tokens: `950`, `34.5k`, `1.2M`.
- Durations: `42 s`, `7 min`, `1.5 h`; ages in a narrow column: `now`, `42s`, `7m`, `3h`, `2d`.
- Times: `2026-11-23 14:05` (seconds on request); naive datetimes are UTC, as stored.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING, and datetime only where a time is written: the status line
    from datetime import datetime, tzinfo  # imports this module on every redraw of Claude Code's status line

UNPRICED = "unpriced"
"""What a cost with no price shows instead of a figure."""

NO_USAGE = "no usage"
"""The cost of a session whose agent recorded no token usage at all (Codex Desktop, legacy rollouts)."""


def money(value: float | None, *, signed: bool = False) -> str:
    """Dollars as the module docstring says; None is UNPRICED."""
    if value is None:
        return UNPRICED
    size = abs(value)
    figure = f"${size:,.2f}" if size >= 0.01 or round(size, 4) == 0 else f"${size:.4f}"
    if figure == "$0.00":
        return figure  # no sign on nothing
    return ("-" if value < 0 else "+" if signed else "") + figure


def money_part(value: float | None, unpriced_tokens: int = 0) -> str:
    """A sum with an unpriced part: `$1.20`, `$1.20 + unpriced (34.5k tok)`, `unpriced (34.5k tok)`.

    Why: a total that leaves out unpriced requests must say so, or it reads as their cost being $0.
    """
    if not unpriced_tokens:
        return money(value)
    marker = f"{UNPRICED} ({tokens(unpriced_tokens)} tok)"
    return marker if value is None or value == 0 else f"{money(value)} + {marker}"


def tokens(value: int | None) -> str:
    """`1.2M`, `34.5k`, `950`; nothing is `0`."""
    if not value:
        return "0"
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)


def duration(seconds: float) -> str:
    """`42 s`, `7 min`, `1.5 h`: a span in a sentence."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def ago(moment: datetime | None, now: datetime) -> str:
    """`now`, `42s`, `7m`, `3h`, `2d`: relative time that fits a narrow column."""
    if moment is None:
        return "–"
    seconds = (now - moment).total_seconds()
    if seconds < 5:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def timestamp(moment: datetime, zone: tzinfo | None = None, *, seconds: bool = False) -> str:
    """`2026-11-23 14:05`: `moment` (naive is UTC) in `zone`, UTC when None."""
    from datetime import UTC

    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone or UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def countdown(seconds: float) -> str:
    """`3d4h`, `2h05m`, `7m`: time left, in its two largest units."""
    whole = max(int(seconds), 0)
    days, hours, minutes = whole // 86400, whole % 86400 // 3600, whole % 3600 // 60
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m"


def iso_utc(moment: datetime | None) -> str | None:
    """`2026-11-23T14:05:00Z`: a stored (naive UTC) or aware time for JSON, always with its zone."""
    if moment is None:
        return None
    from datetime import UTC

    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 request`, `2 requests`."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"
