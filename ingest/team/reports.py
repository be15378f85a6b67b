"""Provides the team reports: the local report functions' shapes, computed by the server.

Each function mirrors one in `tiermon.ingest.reports`, over every pushed
row, and adds grouping by the person and the machine a row came from.
"""

from __future__ import annotations

from datetime import UTC, datetime, time as clock, timedelta
from typing import TYPE_CHECKING, Any

from tiermon.ingest.reports import (
    BLOCK_HOURS,
    PERIODS,
    TOKEN_FIELDS,
    ReportError,
    ReportFilter,
    attach_models,
    finish_block,
    label_months,
    model_row,
    tidy_row,
)
from tiermon.ingest.team.schema import SCHEMA

if TYPE_CHECKING:
    from tiermon.ingest.team.sink import TeamSink


TEAM_KINDS = ("daily", "weekly", "monthly", "session", "model", "blocks")
_KIND_PERIOD = {"daily": "day", "weekly": "week", "monthly": "month"}

GROUPS: dict[str, str] = {
    "project": "coalesce(r.project, '')",
    "branch": "coalesce(r.git_branch, '')",
    "model": "r.model",
    "tier": "r.tier",
    "agent": "r.agent",
    "vendor": "r.vendor",
    "agent-type": "CASE WHEN NOT r.is_sidechain THEN 'main' ELSE coalesce(r.agent_type, 'subagent') END",
    "user": "r.user_name",
    "machine": "r.machine",
}
"""The local --by dimensions plus the person and the machine a row came from."""

_SUMS = ",\n".join(f"sum(r.{f})::BIGINT AS {f}" for f in TOKEN_FIELDS)
_AGGREGATES = f"""count(*) AS requests,
{_SUMS},
sum(r.cost_usd) AS cost_usd,
count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests"""
_FROM = f"FROM {SCHEMA}.responses r"
_LOCAL = "((r.ts AT TIME ZONE 'UTC') AT TIME ZONE %(tz)s)"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def team_where(f: ReportFilter) -> tuple[str, dict[str, Any]]:
    """ReportFilter.where() for PostgreSQL: named parameters, project matched on the folder name."""
    zone = f.zone()
    clauses: list[str] = []
    params: dict[str, Any] = {"tz": f.tz}
    if f.since:
        clauses.append("r.ts >= %(since)s")
        params["since"] = _utc(datetime.combine(f.since, clock.min, zone))
    if f.until:
        clauses.append("r.ts < %(until)s")
        params["until"] = _utc(datetime.combine(f.until + timedelta(days=1), clock.min, zone))
    for name, sql, value in (
        ("project", "r.project ILIKE %(project)s", f"%{f.project}%" if f.project else None),
        ("tier", "r.tier = %(tier)s", f.tier),
        ("source_kind", "r.source_kind = %(source_kind)s", f.source_kind),
        ("session", "r.session_id LIKE %(session)s", f"{f.session}%" if f.session else None),
        ("agents", "r.agent = ANY(%(agents)s)", list(f.agents) if f.agents else None),
    ):
        if value:
            clauses.append(sql)
            params[name] = value
    return (" AND ".join(clauses) or "TRUE"), params


def _group_sql(by: str | None) -> str:
    if by is None:
        return "NULL::text"
    try:
        return GROUPS[by]
    except KeyError as exc:
        raise ReportError(f"cannot group by {by!r} (choose from {', '.join(GROUPS)})") from exc


def period_rows(
    sink: TeamSink, f: ReportFilter, period: str = "day", by: str | None = None, breakdown: bool = False
) -> list[dict[str, Any]]:
    """reports.period_rows over the team."""
    where, params = team_where(f)
    bucket = f"date_trunc('{PERIODS[period]}', {_LOCAL})::date"
    group = _group_sql(by)
    rows = sink.query_dicts(
        f"""SELECT {bucket} AS period, {group} AS "group", {_AGGREGATES}
            {_FROM} WHERE {where} GROUP BY 1, 2 ORDER BY period, "group" NULLS FIRST""",
        params,
    )
    if breakdown:
        models = sink.query_dicts(
            f"""SELECT {bucket} AS period, {group} AS "group", r.model, min(r.tier) AS tier,
                       bool_and(r.priced) AS priced, {_AGGREGATES}, min(r.vendor) AS vendor
                {_FROM} WHERE {where} GROUP BY 1, 2, 3 ORDER BY cost_usd DESC NULLS LAST, r.model""",
            params,
        )
        attach_models(rows, models, ("period", "group"))
    out = []
    for r in rows:
        row = tidy_row(r, by)
        if breakdown:
            row["models"] = [model_row(m, None) for m in r.get("models", [])]
        out.append(row)
    return out


def model_rows(sink: TeamSink, f: ReportFilter, by: str | None = None) -> list[dict[str, Any]]:
    """reports.model_rows over the team."""
    where, params = team_where(f)
    rows = sink.query_dicts(
        f"""SELECT r.model, min(r.tier) AS tier, {_group_sql(by)} AS "group", {_AGGREGATES},
                   bool_and(r.priced) AS priced, min(r.vendor) AS vendor
            {_FROM} WHERE {where} GROUP BY r.model, 3 ORDER BY cost_usd DESC NULLS LAST, r.model""",
        params,
    )
    return [model_row(r, by) for r in rows]


def session_rows(sink: TeamSink, f: ReportFilter, by: str | None = None) -> list[dict[str, Any]]:
    """reports.session_rows over the team, each session also naming its user and machine."""
    where, params = team_where(f)
    group = _group_sql(by)
    sessions = sink.query_dicts(
        f"""SELECT r.session_id, (array_agg(r.project ORDER BY r.ts ASC NULLS LAST))[1] AS project,
                   (array_agg(r.git_branch ORDER BY r.ts DESC NULLS LAST))[1] AS git_branch,
                   min(r.source_kind) AS source_kind, min(r.ts) AS start, max(r.ts) AS "end",
                   {group} AS "group", min(r.user_name) AS "user", min(r.machine) AS machine, {_AGGREGATES},
                   min(r.agent) AS agent, min(r.vendor) AS vendor
            {_FROM} WHERE {where} GROUP BY r.session_id, 7 ORDER BY start, r.session_id""",
        params,
    )
    models = sink.query_dicts(
        f"""SELECT r.session_id, {group} AS "group", r.model, min(r.tier) AS tier,
                   bool_and(r.priced) AS priced, {_AGGREGATES}, min(r.vendor) AS vendor
            {_FROM} WHERE {where} GROUP BY r.session_id, 2, r.model ORDER BY cost_usd DESC NULLS LAST, r.model""",
        params,
    )
    attach_models(sessions, models, ("session_id", "group"))
    out = []
    for s in sessions:
        row = tidy_row(s, by)
        row["models"] = [model_row(m, None) for m in s.get("models", [])]
        out.append(row)
    return out


def totals(sink: TeamSink, f: ReportFilter) -> dict[str, Any]:
    """reports.totals over the team: unpriced models listed, never silently $0."""
    where, params = team_where(f)
    total = sink.query_dicts(f"SELECT {_AGGREGATES} {_FROM} WHERE {where}", params)[0]
    unpriced = sink.query_dicts(
        f"""SELECT r.model, count(*) AS requests, {_SUMS}
            {_FROM} WHERE {where} AND NOT r.priced GROUP BY r.model ORDER BY r.model""",
        params,
    )
    result: dict[str, Any] = tidy_row(total, None)
    result["unpriced_models"] = unpriced
    return result


def blocks(sink: TeamSink, f: ReportFilter, by: str | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """reports.blocks over the team; with `by`, blocks run per group (a block is one person's window)."""
    where, params = team_where(f)
    rows = sink.query_dicts(
        f"""SELECT {_group_sql(by)} AS "group", r.ts, r.model, r.cost_usd,
                   r.input_tokens + r.output_tokens + r.cache_read_tokens
                   + r.cache_write_5m_tokens + r.cache_write_1h_tokens AS tokens
            {_FROM} WHERE {where} AND r.ts IS NOT NULL ORDER BY 1 NULLS FIRST, r.ts""",
        params,
    )
    now = now or datetime.now(UTC).replace(tzinfo=None)
    length = timedelta(hours=BLOCK_HOURS)
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for r in rows:
        if current is None or r["group"] != current["group"] or r["ts"] >= current["end"]:
            start = r["ts"].replace(minute=0, second=0, microsecond=0)
            current = {"group": r["group"], "start": start, "end": start + length, "first": r["ts"], "last": r["ts"],
                       "requests": 0, "tokens": 0, "cost_usd": 0.0, "unpriced_requests": 0,
                       "unpriced_tokens": 0, "models": set()}  # fmt: skip
            out.append(current)
        current["last"] = r["ts"]
        current["requests"] += 1
        current["tokens"] += r["tokens"] or 0
        current["models"].add(r["model"])
        if r["cost_usd"] is None:
            current["unpriced_requests"] += 1
            current["unpriced_tokens"] += r["tokens"] or 0
        else:
            current["cost_usd"] += r["cost_usd"]
    result = []
    for block in out:
        row = finish_block(block, now)
        if by is not None:
            row["group"] = block["group"]
        result.append(row)
    return result


def _session_extras(sink: TeamSink, rows: list[dict[str, Any]]) -> None:
    """Subagents (from the pushed responses) and switches (from the pushed signals) per session."""
    ids = [r["session_id"] for r in rows]
    subagents: dict[str, list[dict[str, Any]]] = {}
    switches: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for a in sink.query_dicts(
            f"""SELECT r.session_id, r.agent_id, coalesce(min(r.agent_type), 'subagent') AS agent_type, r.model,
                       min(r.tier) AS tier, count(*) AS requests, sum(r.cost_usd) AS cost_usd
                {_FROM} WHERE r.session_id = ANY(%(ids)s) AND (r.is_sidechain OR r.agent_id IS NOT NULL)
                GROUP BY r.session_id, r.agent_id, r.model ORDER BY min(r.ts), r.agent_id, r.model""",
            {"ids": ids},
        ):
            sid = a.pop("session_id")
            a["cost_usd"] = round(a["cost_usd"], 6) if a["cost_usd"] is not None else None
            subagents.setdefault(sid, []).append(a)
        for s in sink.query_dicts(
            f"""SELECT session_id, start_ts AS at, figures->>'from_model' AS from_model,
                       figures->>'to_model' AS to_model, from_tier, to_tier,
                       figures->>'direction' AS direction, figures->>'cause' AS cause
                FROM {SCHEMA}.signals WHERE signal = 'switch' AND session_id = ANY(%(ids)s)
                ORDER BY start_ts""",
            {"ids": ids},
        ):
            switches.setdefault(s.pop("session_id"), []).append(s)
    for row in rows:
        row["subagents"] = subagents.get(row["session_id"], [])
        row["switches"] = switches.get(row["session_id"], [])


def build_report(sink: TeamSink, kind: str, f: ReportFilter, by: str | None, breakdown: bool) -> dict[str, Any]:
    """The team report in the shape of `tiermon report … --json` (SPEC §5)."""
    if kind in _KIND_PERIOD:
        rows = period_rows(sink, f, _KIND_PERIOD[kind], by, breakdown)
        if kind == "monthly":
            label_months(rows)
        return {kind: rows, "totals": totals(sink, f)}
    if kind == "session":
        rows = session_rows(sink, f, by)
        _session_extras(sink, rows)
        return {"sessions": rows, "totals": totals(sink, f)}
    if kind == "model":
        return {"models": model_rows(sink, f, by), "totals": totals(sink, f)}
    if kind == "blocks":
        return {"blocks": blocks(sink, f, by), "totals": totals(sink, f)}
    raise ReportError(f"unknown report {kind!r} (choose from {', '.join(TEAM_KINDS)})")
