"""`tiermon team push` and `tiermon team report`: the team's spend on a shared PostgreSQL (SPEC §9)."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any

import click
from rich.text import Text

from tiermon.ingest.reports import ReportError
from tiermon.ingest.sanitize import printable
from tiermon.ingest.team import GROUPS, TEAM_KINDS, PushResult, TeamError
from tiermon.tui.commands.common import agent_values, console, emit_json, global_options, settings_from
from tiermon.tui.commands.report import emit, filter_options, report_filter


class TeamFailed(click.ClickException):
    """A TeamError shown as the one line every tiermon command uses, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"tiermon: error: {printable(self.format_message(), one_line=True)}", err=True)


@click.group("team")
@global_options
def team() -> None:
    """Share spend with your team through a PostgreSQL database (TIERMON_TEAM_URL or [team] url)."""


@team.command("push")
@click.option("--every", type=click.IntRange(min=5), metavar="SECONDS",
              help="Keep pushing every SECONDS until interrupted.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print what was pushed as JSON.")
@global_options
@click.pass_context
def push(ctx: click.Context, every: int | None, as_json: bool) -> None:
    """Send this machine's new responses and signal figures (never any text) to the team database."""
    from tiermon.ingest.team import push_settings

    settings = settings_from(ctx)
    while True:
        try:
            _show_push(push_settings(settings), as_json)
        except TeamError as exc:
            if every is None:
                raise TeamFailed(str(exc)) from None
            click.echo(f"tiermon: error: {exc}", err=True)
        if every is None:
            return
        time.sleep(every)


def _show_push(result: PushResult, as_json: bool) -> None:
    if as_json:
        emit_json(asdict(result))
        return
    who = f"{result.user}@{result.machine}"
    if not result.responses_sent and not result.signals_sent:
        message = f"Nothing new to push to {result.url} as {who}."
    else:
        message = (f"Pushed {result.responses_sent} responses ({result.responses_stored} new or better on the server) "
                   f"and {result.signals_sent} signals to {result.url} as {who}.")  # fmt: skip
    if not result.signals_available:
        message += " (No signals engine here: responses only.)"
    console().print(Text(message))


@team.command("report")
@click.argument("kind", type=click.Choice(TEAM_KINDS))
@filter_options(list(GROUPS))
@global_options
@click.pass_context
def report(ctx: click.Context, /, kind: str, **opts: Any) -> None:
    """The team's spend per day, week, month, session, model or 5-hour block, as `tiermon report`.

    --project matches the project's folder name, the only part of its path that is shared.
    """
    from tiermon.ingest.team import TeamSink, build_report

    settings = settings_from(ctx)
    try:
        f = replace(report_filter(opts), agents=agent_values(settings))
        with TeamSink.open(settings.team_url) as sink:
            sink.ready_to_read()
            data = build_report(sink, kind, f, opts["by"], opts["breakdown"])
    except (TeamError, ReportError) as exc:
        raise TeamFailed(str(exc)) from None
    emit(kind, data, opts)


def register(group: click.Group) -> None:
    group.add_command(team)
