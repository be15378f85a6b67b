"""Provides the small renderables every pane shares: plain text, money, tiers, bars, times.

Anything that came from a transcript goes through `plain()`, which returns a
rich `Text` (never markup) with control characters removed, so a prompt that
holds `[@click=app.quit]` or an escape sequence shows as the characters it is.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.text import Text

from tiermon.ingest import formatting as fmt
from tiermon.ingest.sanitize import clean_text

if TYPE_CHECKING:
    from textual.widgets import DataTable

TIER_STYLES = {
    "haiku": "green", "small": "bright_green", "sonnet": "blue", "mid": "bright_blue",
    "opus": "magenta", "large": "bright_magenta", "other": "yellow",
}  # fmt: skip
"""One colour per tier, used by tables and charts alike."""

_INVISIBLE = re.compile("[\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""DEL, C1 controls (a lone 0x9b is a CSI), zero-width and bidi overrides: none belong on screen."""
_SPACES = re.compile(r"\s+")


def plain(value: object, limit: int | None = None, style: str = "", *, tail: bool = False) -> Text:
    """Hostile text as one line of literal characters, cut to `limit` cells with an ellipsis.

    `tail` keeps the end instead of the start (file paths: the name matters most).
    """
    text = "" if value is None else clean_text(str(value))
    text = _SPACES.sub(" ", _INVISIBLE.sub("", text)).strip()
    if limit is not None and len(text) > limit:
        keep = max(limit - 1, 0)
        text = "…" + text[len(text) - keep:] if tail else text[:keep] + "…"
    return Text(text, style=style, no_wrap=True, overflow="ellipsis", end="")


def safe(value: object, limit: int | None = None) -> str:
    """Hostile text as a clean one-line str, for building a larger Text with append()."""
    return plain(value, limit).plain


def plain_block(value: object) -> Text:
    """Hostile multi-line text (a prompt, a message): literal, controls stripped, lines kept."""
    text = "" if value is None else clean_text(str(value))
    return Text(_INVISIBLE.sub("", text).replace("\t", "    "), end="")


def money(value: float | None, *, unpriced: bool = False) -> Text:
    """`formatting.money` right-aligned: `unpriced` in yellow, never $0 (SPEC §3); a cost that
    leaves out unpriced requests carries a `*`."""
    if value is None:
        return Text(fmt.UNPRICED, style="yellow", justify="right")
    return Text(fmt.money(value) + ("*" if unpriced else ""), justify="right", style="yellow" if unpriced else "")


def tier_text(tier: str | None) -> Text:
    tier = tier or "other"
    return Text(tier, style=TIER_STYLES.get(tier, "yellow"))


def model_short(model: str | None) -> str:
    """`claude-opus-4-6` -> `opus-4.6`, dates dropped: the part a person reads (cleaned: models come
    from transcripts too)."""
    if not model:
        return "?"
    name = re.sub(r"-\d{8}$", "", safe(model).removeprefix("claude-"))
    return re.sub(r"-(\d+)-(\d+)(\[.*\])?$", r"-\1.\2\3", name)


def model_text(model: str | None, tier: str | None, limit: int = 14) -> Text:
    return plain(model_short(model), limit, style=TIER_STYLES.get(tier or "other", ""))


def fill_bar(used: int | None, window: int | None, width: int = 6) -> Text:
    """`▇▇▇▁▁▁ 52%`: context fill against the model's window, red from 80 %."""
    if not used or not window:
        return Text("–", style="dim")
    share = min(used / window, 1.0)
    filled = round(share * width)
    style = "red" if share >= 0.8 else "yellow" if share >= 0.5 else "green"
    bar = Text("█" * filled, style=style)
    bar.append("░" * (width - filled), style="dim")
    bar.append(f" {share:>3.0%}")
    return bar


def local(moment: datetime) -> datetime:
    """A stored naive-UTC time in the viewer's local zone."""
    return moment.replace(tzinfo=UTC).astimezone()


def local_date(moment: datetime, tz: str) -> date:
    """The calendar day a naive-UTC moment falls on in zone `tz`."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).date()


def clock_time(moment: datetime | None, *, with_date: bool = False) -> str:
    if moment is None:
        return "–"
    return local(moment).strftime("%a %d %b %H:%M" if with_date else "%H:%M:%S")



def clear_rows(table: DataTable[Any]) -> None:
    """Remove every row and let each auto-width column shrink back to its label.

    DataTable.clear() keeps the widths its rows once needed, so without this a
    pane laid out for a wide terminal stays that wide after the terminal shrinks.
    """
    table.clear()
    for column in table.columns.values():
        if column.auto_width:
            column.content_width = column.label.cell_len
