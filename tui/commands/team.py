"""`tiermon team push` and `tiermon team report`: the team's spend on a shared PostgreSQL (SPEC §9)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import click
from rich.text import Text
from tiermon.ingest.reports import ReportError, ReportFilter
from tiermon.ingest.team import GROUPS, TEAM_KINDS, PushResult, TeamError
from tiermon.tui.commands.common import (
    console,
    emit_csv,
    emit_json,
    global_options,
    parse_day,
    settings_from,
)
from tiermon.tui.commands.report import flat_rows, local_timezone, print_table


class TeamFailed(click.ClickException):
    """A TeamError shown as the one line every tiermon command uses, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"tiermon: error: {self.format_message()}", err=True)


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
@click.option("--since", help="First day (YYYY-MM-DD or YYYYMMDD).")
@click.option("--until", help="Last day, inclusive.")
@click.option("--project", help="Only projects whose folder name contains this.")
@click.option("--tier", type=click.Choice(["haiku", "sonnet", "opus", "other"]))
@click.option("--by", "by", type=click.Choice(list(GROUPS)), help="Group rows by this dimension.")
@click.option("--breakdown", is_flag=True, help="Per-model figures inside each row.")
@click.option("--source-kind", type=click.Choice(["claude", "api"]), help="Only transcripts or only API logs.")
@click.option("--session", help="Only this session (id or prefix).")
@click.option("--json", "as_json", is_flag=True, help="JSON (SPEC §5 contract).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per line.")
@click.option("--timezone", "tz", help="IANA zone that days are cut in (default: this machine's).")
@global_options
@click.pass_context
def report(ctx: click.Context, kind: str, since: str | None, until: str | None, project: str | None,
           tier: str | None, by: str | None, breakdown: bool, source_kind: str | None, session: str | None,
           as_json: bool, as_csv: bool, tz: str | None) -> None:  # fmt: skip
    """The team's spend per day, week, month, session, model or 5-hour block, as `tiermon report`."""
    from tiermon.ingest.team import TeamSink, build_report

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    f = ReportFilter(
        since=parse_day(since, "--since"), until=parse_day(until, "--until"), project=project, tier=tier,
        tz=tz or local_timezone(), source_kind=source_kind, session=session,
    )  # fmt: skip
    if f.since and f.until and f.since > f.until:
        raise click.BadParameter("--since is after --until", param_hint="--since")
    settings = settings_from(ctx)
    try:
        f.zone()
        with TeamSink.open(settings.team_url) as sink:
            sink.ready_to_read()
            data = build_report(sink, kind, f, by, breakdown)
    except (TeamError, ReportError) as exc:
        raise TeamFailed(str(exc)) from None
    if as_json:
        emit_json(data)
    elif as_csv:
        emit_csv(flat_rows(kind, data))
    else:
        print_table(kind, data, breakdown)


def register(group: click.Group) -> None:
    group.add_command(team)
