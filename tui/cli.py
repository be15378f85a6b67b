"""The `tiermon` command: thin click wiring over ingest/ and the app factory.

Every expected failure (a missing folder, a bad date, a corrupt or busy
database, a bad config file) ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click
import duckdb

from tiermon import __version__
from tiermon.ingest.config import ConfigError
from tiermon.ingest.pricing import PriceFileError
from tiermon.ingest.reports import ReportError
from tiermon.ingest.sources import SourceError
from tiermon.ingest.store import StoreError
from tiermon.tui.commands.common import global_options, settings_from

USER_ERRORS = (StoreError, SourceError, ConfigError, PriceFileError, ReportError, duckdb.Error, OSError)
"""Failures that are the user's input or environment, reported in one line."""

COMMAND_MODULES = (
    "tiermon.tui.commands.ingest",
    "tiermon.tui.commands.report",
    "tiermon.tui.commands.signals",
    "tiermon.tui.commands.export",
    "tiermon.tui.commands.reconcile",
    "tiermon.tui.commands.team",
)
"""Modules whose `register(group)` adds subcommands; a missing one is simply absent."""


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tiermon")
@click.option("--demo", is_flag=True, help="Open the dashboard over bundled sample data with simulated live activity.")
@global_options
@click.pass_context
def cli(ctx: click.Context, demo: bool) -> None:
    """See how Claude Code sessions and Anthropic API calls spend money across model tiers.

    With no command, opens the live dashboard.
    """
    if ctx.invoked_subcommand is not None:
        return
    from tiermon.tui.launch import run_dashboard

    run_dashboard(settings_from(ctx), demo=demo)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(cli)


_register_commands()


def main(argv: list[str] | None = None) -> Any:
    """Entry point: run the CLI and turn expected failures into one line and exit 2."""
    try:
        return cli.main(args=argv, prog_name="tiermon", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("tiermon: aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except USER_ERRORS as exc:
        click.echo(f"tiermon: error: {one_line(exc)}", err=True)
        sys.exit(2)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename:
        message = f"{exc.strerror or message}: {exc.filename}"
    return message
