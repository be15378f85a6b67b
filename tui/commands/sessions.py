"""`tiermon sessions`: every stored session of every agent, newest first, searchable (SPEC §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from tiermon.ingest import formatting as fmt
from tiermon.ingest.sessions import list_sessions
from tiermon.ingest.zone import local_timezone
from tiermon.tui.commands.common import (
    agent_values,
    console,
    emit_json,
    global_options,
    parse_day,
    reading,
    settings_from,
)

JSON_FIELDS = ("session_id", "agent", "project", "branch", "start", "end", "turns", "requests", "cost_usd",
               "models", "first_prompt")  # fmt: skip


@click.command("sessions")
@click.option("--search", help="Only sessions whose project, branch or first prompt contains this text.")
@click.option("--since", help="Sessions active on or after this day (YYYY-MM-DD or YYYYMMDD).")
@click.option("--until", help="Sessions active on or before this day, inclusive.")
@click.option("--model", help="Only sessions that used a model whose id contains this text.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many sessions.")
@click.option("--json", "as_json", is_flag=True, help='JSON: {"sessions": [...]}.')
@click.option("--timezone", "tz", help="IANA zone that days are cut and times shown in (default: this machine's).")
@global_options
@click.pass_context
def sessions(ctx: click.Context, search: str | None, since: str | None, until: str | None, model: str | None,
             limit: int | None, as_json: bool, tz: str | None) -> None:  # fmt: skip
    """Every stored session of every agent, newest first."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    zone_name = tz or local_timezone()
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(f"unknown time zone {zone_name!r}", param_hint="--timezone") from exc
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    settings = settings_from(ctx)
    with reading(settings) as store:
        rows = list_sessions(store, search=search, since=first, until=last, tz=zone_name,
                             agents=agent_values(settings), model=model, limit=limit)  # fmt: skip
    if as_json:
        emit_json({"sessions": [_json_row(r) for r in rows]})
        return
    _print(rows, zone)


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: fmt.iso_utc(row[k]) if isinstance(row[k], datetime) else row[k] for k in JSON_FIELDS}


def _print(rows: list[dict[str, Any]], zone: Any) -> None:
    from rich import box
    from rich.table import Table

    out = console()
    if not rows:
        out.print("No sessions match.")
        return
    table = Table(box=box.SIMPLE_HEAD, title=f"{fmt.plural(len(rows), 'session')}, newest first",
                  title_justify="left")  # fmt: skip
    table.add_column("last active", no_wrap=True)
    table.add_column("session", no_wrap=True)
    table.add_column("agent", no_wrap=True)
    table.add_column("project", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("branch", max_width=18, overflow="ellipsis", no_wrap=True)
    table.add_column("turns", justify="right")
    table.add_column("cost", justify="right", no_wrap=True)
    table.add_column("first prompt", max_width=40, overflow="ellipsis", no_wrap=True)
    for row in rows:
        table.add_row(
            fmt.timestamp(row["end"], zone) if row["end"] else "–", _short_id(row["session_id"]), row["agent"] or "",
            project_label(row["project"]), row["branch"] or "", str(row["turns"]),
            fmt.money(row["cost_usd"]) if row["requests"] else fmt.NO_USAGE,
            " ".join((row["first_prompt"] or "").split()),
        )
    out.print(table)


def _short_id(session_id: str) -> str:
    return session_id if session_id.startswith("api:") else session_id[:8]


def project_label(project: str | None) -> str:
    """The folder's name, as every pane shows it."""
    return (project or "").rstrip("/").rsplit("/", 1)[-1]


def register(group: click.Group) -> None:
    group.add_command(sessions)
