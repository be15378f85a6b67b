"""What every subcommand shares: global options, settings, the store, output helpers."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tiermon.ingest import formatting as fmt
from tiermon.ingest.config import Settings, load_settings
from tiermon.ingest.discovery import parse_source
from tiermon.ingest.sanitize import json_safe, printable
from tiermon.ingest.sources import SOURCES
from tiermon.ingest.store import Store

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

_GLOBALS = "tiermon_globals"


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
        click.option("--source", metavar="[KIND=]DIR", multiple=True, expose_value=False, callback=_remember,
                     help="Read this folder instead of discovering the agents' homes (repeatable); KIND is "
                          f"{', '.join(SOURCES)} (default claude)."),
        click.option("--api-log", "api_log", type=click.Path(path_type=Path), multiple=True, expose_value=False,
                     callback=_remember, help="An Anthropic API log file or folder (repeatable)."),
        click.option("--agent", "agent", type=click.Choice(list(SOURCES)), multiple=True, expose_value=False,
                     callback=_remember, help="Only this agent's rows (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


class BadArgument(click.ClickException):
    """An argument that names nothing (a session id that matches none): one line, exit 2 (SPEC §5)."""

    exit_code = 2


def settings_from(ctx: click.Context) -> Settings:
    """Settings built once per invocation from the remembered global options."""
    root = ctx.find_root()
    if "settings" not in root.meta:
        opts = root.meta.get(_GLOBALS, {})
        sources = [parse_source(value) for value in opts.get("source") or ()]
        root.meta["settings"] = load_settings(
            db=opts.get("db"), sources=sources or None, api_logs=opts.get("api_log") or None,
            agents=tuple(opts.get("agent") or ()),
        )
    settings: Settings = root.meta["settings"]
    return settings


def agent_values(settings: Settings) -> tuple[str, ...]:
    """The rows' `agent` values the `--agent` kinds name."""
    return tuple(SOURCES[kind].agent for kind in settings.agents)



def console(stderr: bool = False) -> Console:
    """A Rich console that honours NO_COLOR and plain pipes and prints data as plain, printable text.

    rich is imported here, so JSON and CSV output never load it."""
    from tiermon.tui.commands.safe_console import SafeConsole

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 160  # pipes and files get full rows
    return SafeConsole(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=False,
                       width=width, markup=False, emoji=False)  # fmt: skip


@contextmanager
def reading(settings: Settings, *, signals: bool = True) -> Iterator[Store]:
    """Read what is new on disk first (fast when nothing is), then answer on the pass's connection.

    An answer made of responses alone passes `signals=False`: the pass leaves the signals of what
    it read to the next command or dashboard that shows them, and answers sooner.
    """
    from tiermon.ingest.runner import Ingestor

    with Ingestor(settings, signals=signals).answering() as store:
        yield store


def parse_day(value: str | None, option: str) -> date | None:
    """YYYY-MM-DD or YYYYMMDD, else a one-line usage error."""
    if value is None:
        return None
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise click.BadParameter(f"{value!r} is not a date (use YYYY-MM-DD or YYYYMMDD)", param_hint=option)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return fmt.iso_utc(value)  # stored times are naive UTC: JSON says so
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
    """A header line and one line per row; nothing at all for no rows. The columns are every key of any
    row, in first-seen order: a key only some rows carry (a model's `proxy_cost_usd`) is a column too."""
    if not rows:
        return ""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_safe(v) for k, v in row.items()})
    return buf.getvalue()


def emit_csv(rows: list[dict[str, Any]]) -> None:
    sys.stdout.write(csv_text(rows))


