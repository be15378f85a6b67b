"""Provides the lead's overview: what the Team screen shows, fetched in one go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time as clock, timedelta
from typing import Any

from tiermon.ingest.reports import ReportFilter
from tiermon.ingest.team.reports import _FROM, _LOCAL, _utc
from tiermon.ingest.team.schema import SCHEMA
from tiermon.ingest.team.sink import TeamSink

TIERS = ("haiku", "sonnet", "opus", "other")


@dataclass(frozen=True)
class TeamOverview:
    """Everything the Team screen shows, fetched in one go."""

    this_week: date
    """Monday of the current week in the viewer's zone."""
    weekly: list[dict[str, Any]]
    """week, user, project, per-tier cost, cost_usd, requests, unpriced_requests, change_usd, change_pct."""
    people: list[dict[str, Any]]
    """user, this_week, last_week, change_usd, change_pct and this week's cost per tier."""
    alerts: list[dict[str, Any]]
    advice: list[dict[str, Any]]
    members: list[dict[str, Any]]


def _change(now: float | None, before: float | None) -> tuple[float | None, float | None]:
    if before is None:
        return None, None
    delta = (now or 0.0) - before
    return round(delta, 6), (delta / before if before else None)


def team_overview(sink: TeamSink, *, now: datetime, tz: str, weeks: int = 8, limit: int = 20) -> TeamOverview:
    """Per-tier spend per week per person and project, week-over-week change, top alerts and advice."""
    zone = ReportFilter(tz=tz).zone()
    local_now = now.astimezone(zone) if now.tzinfo else now.replace(tzinfo=UTC).astimezone(zone)
    monday = local_now.date() - timedelta(days=local_now.weekday())
    first = monday - timedelta(weeks=weeks)
    since = _utc(datetime.combine(first, clock.min, zone))
    tiers = ", ".join(f"coalesce(sum(r.cost_usd) FILTER (WHERE r.tier = '{t}'), 0) AS {t}" for t in TIERS)
    rows = sink.query_dicts(
        f"""SELECT date_trunc('week', {_LOCAL})::date AS week, r.user_name AS "user",
                   coalesce(r.project, '') AS project, {tiers}, coalesce(sum(r.cost_usd), 0) AS cost_usd,
                   count(*) AS requests, count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests
            {_FROM} WHERE r.ts >= %(since)s GROUP BY 1, 2, 3 ORDER BY week DESC, cost_usd DESC, 2, 3""",
        {"tz": tz, "since": since},
    )
    index = {(r["week"], r["user"], r["project"]): r for r in rows}
    weekly = []
    for r in rows:
        before = index.get((r["week"] - timedelta(weeks=1), r["user"], r["project"]))
        r["change_usd"], r["change_pct"] = _change(r["cost_usd"], before["cost_usd"] if before else 0.0)
        if r["week"] > first:
            weekly.append(r)
    return TeamOverview(monday, weekly, _people(rows, monday), _top_alerts(sink, since, limit),
                        _top_advice(sink, since, limit), _members(sink))  # fmt: skip


def _people(rows: list[dict[str, Any]], monday: date) -> list[dict[str, Any]]:
    last = monday - timedelta(weeks=1)
    people: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["week"] not in (monday, last):
            continue
        p = people.setdefault(r["user"], {"user": r["user"], "this_week": 0.0, "last_week": 0.0,
                                          **{t: 0.0 for t in TIERS}})  # fmt: skip
        if r["week"] == monday:
            p["this_week"] += r["cost_usd"]
            for t in TIERS:
                p[t] += r[t]
        else:
            p["last_week"] += r["cost_usd"]
    for p in people.values():
        p["change_usd"], p["change_pct"] = _change(p["this_week"], p["last_week"])
    return sorted(people.values(), key=lambda p: (-p["this_week"], p["user"]))


def _top_alerts(sink: TeamSink, since: datetime, limit: int) -> list[dict[str, Any]]:
    return sink.query_dicts(
        f"""SELECT user_name AS "user", kind, count(*) AS alerts,
                   count(*) FILTER (WHERE severity = 'warn') AS warnings,
                   count(DISTINCT session_id) AS sessions, max(start_ts) AS last
            FROM {SCHEMA}.signals WHERE signal = 'alert' AND start_ts >= %(since)s
            GROUP BY 1, 2 ORDER BY warnings DESC, alerts DESC, 1, 2 LIMIT %(limit)s""",
        {"since": since, "limit": limit},
    )


def _top_advice(sink: TeamSink, since: datetime, limit: int) -> list[dict[str, Any]]:
    return sink.query_dicts(
        f"""SELECT s.user_name AS "user",
                   (SELECT min(r.project) FROM {SCHEMA}.responses r WHERE r.session_id = s.session_id) AS project,
                   s.session_id, s.kind, s.from_tier, s.to_tier, s.turn, s.start_ts AS start, s.cost_usd,
                   s.counterfactual_cost_usd, s.cost_usd - s.counterfactual_cost_usd AS saving_usd
            FROM {SCHEMA}.signals s WHERE s.signal = 'advice' AND s.start_ts >= %(since)s
            ORDER BY abs(coalesce(s.cost_usd, 0) - coalesce(s.counterfactual_cost_usd, 0)) DESC, s.start_ts DESC
            LIMIT %(limit)s""",
        {"since": since, "limit": limit},
    )


def _members(sink: TeamSink) -> list[dict[str, Any]]:
    return sink.query_dicts(
        f"""SELECT user_name AS "user", machine, last_push, pushed_responses, pushed_signals, tiermon_version
            FROM {SCHEMA}.members ORDER BY last_push DESC"""
    )


def fetch_overview(url: str | None, *, now: datetime, tz: str, weeks: int = 8) -> TeamOverview:
    """Connect, check the schema, read the overview: what the Team screen's worker calls."""
    with TeamSink.open(url) as sink:
        sink.ready_to_read()
        return team_overview(sink, now=now, tz=tz, weeks=weeks)
