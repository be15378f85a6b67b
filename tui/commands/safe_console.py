"""Provides SafeConsole: the one way text reaches a terminal (SPEC §8). Imported only when a table prints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from tiermon.ingest.sanitize import printable

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType
    from rich.style import Style


class SafeConsole(Console):
    """The one way text reaches a terminal: never markup, never a control character from the data (SPEC §8).

    Strings are plain text (markup and emoji codes off), and every Text and
    every rendered segment passes through `printable`, so a table, a line or
    a title built from transcript fields cannot carry an escape sequence.
    Colour the code asks for with `style=` still works: Rich adds those codes
    after this point, and only when the output is a terminal.
    """

    def render_str(
        self,
        text: str,
        *,
        style: str | Style = "",
        justify: Any = None,
        overflow: Any = None,
        emoji: bool | None = None,
        markup: bool | None = None,
        highlight: bool | None = None,
        highlighter: Any = None,
    ) -> Text:
        return Text(printable(text), style=style, justify=justify, overflow=overflow)

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        if isinstance(renderable, Text):
            renderable = _printable_text(renderable)
        for segment in super().render(renderable, options):
            if segment.control is None and segment.text and not segment.text.isprintable():
                segment = Segment(printable(segment.text), segment.style, segment.control)
            yield segment


def _printable_text(text: Text) -> Text:
    """A copy of `text` made printable; replacement keeps lengths, so its styled spans stay put."""
    clean = printable(text.plain)
    if clean == text.plain:
        return text
    copy = text.copy()
    copy.plain = clean
    return copy
