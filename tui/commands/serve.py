"""`tiermon serve`: keep a resident process that answers reports in a blink (see tui/resident)."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from tiermon.tui.commands.common import global_options, settings_from
from tiermon.tui.resident import ANSWERED


@click.command("serve")
@click.option("--quiet", "-q", is_flag=True, help="Do not log each answered command on stderr.")
@global_options
@click.pass_context
def serve(ctx: click.Context, quiet: bool) -> None:
    """Answer this user's read-only commands from a resident process, until Ctrl-C.

    While it runs, `tiermon report|sessions|alerts|…` started anywhere by this user is run here
    and printed by the command you typed: the same output and exit status, without Python's,
    DuckDB's and the store's start-up. The store is let go whenever another tiermon needs it.
    """
    from tiermon.tui.resident.server import Server

    def log(line: str) -> None:
        print(f"{datetime.now():%H:%M:%S} tiermon serve: {line}", file=sys.stderr, flush=True)

    Server(settings_from(ctx), log=(lambda line: None) if quiet else log).serve()


serve.help = (serve.help or "") + f"\n\nCommands answered: {', '.join(sorted(ANSWERED))}."


def register(group: click.Group) -> None:
    group.add_command(serve)
