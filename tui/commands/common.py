"""What every subcommand shares: global options, settings, the store, output helpers."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.segment import Segment
from rich.text import Text

from tiermon.ingest.config import Settings, load_settings
from tiermon.ingest.sanitize import json_safe, printable
from tiermon.ingest.store import Store
from tiermon.ingest.tailer import IngestSummary

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType
    from rich.style import Style

F = TypeVar("F", bound=Callable[..., Any])

_GLOBALS = "tiermon_globals"
ARGV = "argv"
"""Key of the command line in the root context's `obj`, as `tui.cli.main` received it."""


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Options given before or after the command land in one place on the root context."""
    store = ctx.find_root().meta.setdefault(_GLOBALS, {})
    if value in (None, ()):
        return value
    if isinstance(value, tuple):
        store[param.name] = [*store.get(param.name, []), *value]
    else:
        store[param.name] = value
    return value


def global_options(func: F) -> F:
    """--db, --source and --api-log, accepted on the group and on every command (SPEC §5)."""
    options = [
        click.option("--db", type=click.Path(path_type=Path, dir_okay=False), expose_value=False,
                     callback=_remember, help="Database file (default: the user data dir)."),
        click.option("--source", type=click.Path(path_type=Path), multiple=True, expose_value=False,
                     callback=_remember, help="Read transcripts below DIR instead of discovering them (repeatable)."),
        click.option("--api-log", "api_log", type=click.Path(path_type=Path), multiple=True, expose_value=False,
                     callback=_remember, help="An Anthropic API log file or folder (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def settings_from(ctx: click.Context) -> Settings:
    """Settings built once per invocation from the remembered global options."""
    root = ctx.find_root()
    if "settings" not in root.meta:
        opts = root.meta.get(_GLOBALS, {})
        root.meta["settings"] = load_settings(
            db=opts.get("db"), sources=opts.get("source") or None, api_logs=opts.get("api_log") or None
        )
    settings: Settings = root.meta["settings"]
    return settings


def invocation_argv(ctx: click.Context) -> list[str] | None:
    """The command line this run was started with, when `tui.cli.main` started it."""
    obj = ctx.find_root().obj
    argv = obj.get(ARGV) if isinstance(obj, dict) else None
    return list(argv) if isinstance(argv, (list, tuple)) else None


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


def console(stderr: bool = False) -> Console:
    """A Rich console that honours NO_COLOR and plain pipes and prints data as plain, printable text."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160  # pipes and files get full rows
    return SafeConsole(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=False,
                       width=width, markup=False, emoji=False)  # fmt: skip


def ingest_quietly(settings: Settings) -> IngestSummary:
    """Reports answer over everything on disk: read what is new first (fast when nothing is)."""
    from tiermon.ingest.service import Ingestor

    return Ingestor(settings).run()


@contextmanager
def reading(settings: Settings, *, refresh: bool = True) -> Iterator[Store]:
    """Ingest what is new, then a read-only connection for the answer."""
    if refresh:
        ingest_quietly(settings)
    with Store.open(settings.db_path, read_only=True) as store:
        yield store


def parse_day(value: str | None, option: str) -> date | None:
    """YYYY-MM-DD or YYYYMMDD, else a one-line usage error."""
    if value is None:
        return None
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD or YYYYMMDD)", param_hint=option)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def json_text(data: Any) -> str:
    """JSON with every control character escaped: json.dumps escapes C0 and non-ASCII, json_safe the rest."""
    return json_safe(json.dumps(data, default=_json_default, indent=2)) + "\n"


def emit_json(data: Any) -> None:
    sys.stdout.write(json_text(data))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A CSV cell: control characters made visible (SPEC §8), spreadsheet formulas neutralised (CSV injection)."""
    if isinstance(value, str):
        value = printable(value)
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def csv_text(rows: list[dict[str, Any]]) -> str:
    """A header line and one line per row; nothing at all for no rows."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_safe(v) for k, v in row.items()})
    return buf.getvalue()


def emit_csv(rows: list[dict[str, Any]]) -> None:
    sys.stdout.write(csv_text(rows))


def usd(value: float | None) -> str:
    if value is None:
        return "unpriced"
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def tokens(value: int | None) -> str:
    if not value:
        return "0"
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)
