"""The `tiermon` command: thin click wiring over ingest/ and the app factory.

Every expected failure (a missing folder, a bad date, a corrupt or busy
database, a bad config file) ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from tiermon import __version__
from tiermon.ingest import duck
from tiermon.ingest.config import ConfigError
from tiermon.ingest.models import ModelsFileError
from tiermon.ingest.pricing import PriceFileError
from tiermon.ingest.reports import ReportError
from tiermon.ingest.rows import SourceError
from tiermon.ingest.sanitize import printable
from tiermon.ingest.store import StoreError
from tiermon.tui.commands.common import global_options, settings_from
from tiermon.tui.resident import ServeError

USER_ERRORS = (
    StoreError, SourceError, ConfigError, PriceFileError, ModelsFileError, ReportError, ServeError, duck.Error,
    OSError
)  # fmt: skip
"""Failures that are the user's input or environment, reported in one line."""

COMMANDS = {
    "ingest": "tiermon.tui.commands.ingest",
    "prices": "tiermon.tui.commands.ingest",
    "doctor": "tiermon.tui.commands.ingest",
    "report": "tiermon.tui.commands.report",
    "alerts": "tiermon.tui.commands.signals",
    "advise": "tiermon.tui.commands.signals",
    "show": "tiermon.tui.commands.signals",
    "scorecard": "tiermon.tui.commands.scorecard",
    "replay": "tiermon.tui.commands.scorecard",
    "export": "tiermon.tui.commands.export",
    "reconcile": "tiermon.tui.commands.reconcile",
    "team": "tiermon.tui.commands.team",
    "statusline": "tiermon.tui.commands.statusline",
    "limits": "tiermon.tui.commands.limits",
    "sessions": "tiermon.tui.commands.sessions",
    "serve": "tiermon.tui.commands.serve",
}
"""Subcommand -> the module whose `register(group)` adds it. Modules load when their command runs:
importing every one (Parquet for export, the team sink, HTTP for reconcile) cost each call ~50 ms."""


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name]).register(self)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
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
    """The first line of an error, printable: messages may quote paths and ids read from a source."""
    text = printable(str(exc)).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename:
        message = f"{exc.strerror or message}: {exc.filename}"
    return message
