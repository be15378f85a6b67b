"""`tiermon [OPTIONS] statusline`: the click route to the status line, for global options given first.

The console script sends `tiermon statusline` straight to tui/statusline.py
without click; this command exists so that it is listed in `--help` and so
that `tiermon --db … statusline` works too.
"""

from __future__ import annotations

import sys

import click

from tiermon.tui.commands.common import global_options, settings_from


@click.command("statusline", context_settings={"ignore_unknown_options": True})
@click.option("--chain", metavar="CMD", help="Also run your previous statusLine command and append its output.")
@global_options
@click.pass_context
def statusline(ctx: click.Context, chain: str | None) -> None:
    """One line for Claude Code's statusLine setting, from the JSON on stdin (≤ 50 ms, no database)."""
    from tiermon.tui.statusline import main

    code = main(["--chain", chain] if chain else [], folder=settings_from(ctx).data_dir)
    if code:
        sys.exit(code)


def register(group: click.Group) -> None:
    group.add_command(statusline)
