"""Every stored session of every agent, newest first, searchable (SPEC §5 `tiermon sessions`, §6 Sessions).

One row per session: agent, project (the session's first working folder, so
a session that moved into a subfolder stays one project), branch, span,
cost, requests, models and its first prompt. Search matches project, branch
and first prompt (and the id), case-insensitive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tiermon.ingest.store import Store

_SESSIONS_SQL = """
WITH s AS (
    SELECT k AS session_id, agent, project, branch, start, "end", requests, cost_usd, unpriced_requests, models,
           first_prompt, coalesce(turns, 0) AS turns
    FROM session_totals {newest}
),
{quiet}
SELECT * FROM every s
WHERE {where}
ORDER BY s."end" DESC NULLS LAST, s.session_id
{limit}
"""
"""Sessions from `session_totals`, the row per session that writes and signals passes keep."""

_NEWEST_WHERE = (
    ("agent IN (SELECT unnest(?::VARCHAR[]))", "agents"), ('"end" >= ?', "begins"), ("start < ?", "ends")
)
"""The agent and date filters, on a session's row. A list with a limit and no filter on what it shows
applies them in the table itself, taking its rows newest first straight from there."""

_QUIET_CANDIDATES_SQL = "SELECT k FROM session_signals g WHERE len(g.models) = 0 {ended} ORDER BY k"
"""Sessions that may have activity but no responses: the signals' model list is empty for every session
without responses, but for API batches too, so the session totals decide."""

_QUIET_SQL = """
SELECT g.k FROM session_signals g ANTI JOIN session_totals t ON t.k = g.k
WHERE len(g.models) = 0 {ended}
ORDER BY g.k
"""
"""The candidates without a row in the session totals, when there are too many to look up by key."""

QUIET_LOOKUP_MAX = 200
"""Up to this many candidates are looked up in the session totals' key (~1-6 ms); more are anti-joined
with the whole table (~16 ms at 260 k sessions)."""

_WITH_QUIET = """
quiet AS (
    SELECT g.k AS session_id, g.project, g.git_branch AS branch, g.start_ts AS start, g.end_ts AS "end",
           p.prompt AS first_prompt, coalesce(g.turns, 0) AS turns
    FROM session_signals g LEFT JOIN turns p ON p.k = g.k || ':1'
    WHERE g.k IN (SELECT unnest(?::VARCHAR[]))
),
quiet_agent AS (
    SELECT e.session_id, any_value(e.agent) AS agent FROM events e SEMI JOIN quiet USING (session_id)
    WHERE e.ts >= ? OR e.ts IS NULL GROUP BY 1
),
every AS (
    SELECT * FROM s
    UNION ALL BY NAME
    SELECT quiet.*, a.agent, 0 AS requests, NULL::DOUBLE AS cost_usd, 0 AS unpriced_requests, []::VARCHAR[] AS models
    FROM quiet JOIN quiet_agent a USING (session_id)
),"""
"""Sessions with activity but no usage at all (Codex Desktop and legacy rollouts record none:
formats/codex.md) are listed with 0 requests and an unknown cost. Finding their agent scans the
events, so this part joins only when there are such sessions; a list with a limit keeps only those
that end after its last session, and reads the events from there on (every one of them has its last
event there)."""

_EARLIEST = datetime(1, 1, 1)


def list_sessions(
    store: Store,
    *,
    search: str | None = None,
    since: date | None = None,
    until: date | None = None,
    tz: str = "UTC",
    agents: tuple[str, ...] = (),
    model: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Sessions that overlap [since, until] (days in `tz`), newest activity first."""
    zone = ZoneInfo(tz)
    bounds: dict[str, Any] = {
        "agents": list(agents) or None,
        "begins": _utc(datetime.combine(since, time.min, zone)) if since else None,
        "ends": _utc(datetime.combine(until + timedelta(days=1), time.min, zone)) if until else None,
    }
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    for sql, name in _NEWEST_WHERE:
        if bounds[name] is not None:
            clauses.append(f"s.{sql}")
            params.append(bounds[name])
    if model:
        clauses.append("len(list_filter(s.models, lambda m: m ILIKE ? ESCAPE '\\')) > 0")
        params.append(f"%{_escaped(model)}%")
    if search:
        needle = f"%{_escaped(search.strip())}%"
        clauses.append(
            "(s.project ILIKE ? ESCAPE '\\' OR s.branch ILIKE ? ESCAPE '\\' OR s.first_prompt ILIKE ? ESCAPE '\\'"
            " OR s.session_id ILIKE ? ESCAPE '\\')"
        )
        params += [needle] * 4
    newest_sql, newest_params, cutoff = "", [], None
    if limit and not search and not model:
        where = [sql for sql, name in _NEWEST_WHERE if bounds[name] is not None]
        newest_params = [bounds[name] for _, name in _NEWEST_WHERE if bounds[name] is not None]
        order = f'ORDER BY "end" DESC NULLS LAST, k LIMIT {int(limit)}'
        cutoff = _last_listed_end(store, where, newest_params, int(limit))
        if cutoff is not None:  # the list's rows end no earlier: the table hands over only those
            where, newest_params = [*where, '"end" >= ?'], [*newest_params, cutoff]
        newest_sql = f"WHERE {' AND '.join(where)} {order}" if where else order
    quiet_ids = _quiet_sessions(store, cutoff)
    quiet, quiet_params = "every AS (SELECT * FROM s),", []
    if quiet_ids:
        quiet, quiet_params = _WITH_QUIET, [quiet_ids, cutoff or _EARLIEST]
    sql = _SESSIONS_SQL.format(
        newest=newest_sql, quiet=quiet, where=" AND ".join(clauses), limit=f"LIMIT {int(limit)}" if limit else ""
    )
    rows = store.query_dicts(sql, [*newest_params, *quiet_params, *params])
    for row in rows:
        row["requests"] = int(row["requests"])
        row["unpriced_requests"] = int(row["unpriced_requests"])
        if row["unpriced_requests"] == row["requests"]:
            row["cost_usd"] = None  # nothing priced, or no usage recorded: unknown, not $0 (SPEC §3)
        elif row["cost_usd"] is not None:
            row["cost_usd"] = round(row["cost_usd"], 6)
    return rows


def _last_listed_end(store: Store, where: list[str], params: list[Any], limit: int) -> datetime | None:
    """When the newest `limit` sessions (of those matching `where`) fill the list, when the last of them
    ended (else None: every session without usage may be listed). Ties in the end time do not change it,
    so the sort reads the end column alone (~3 ms at 260 k sessions, 13 with the tie-break on the id)."""
    newest = f"WHERE {' AND '.join(where)}" if where else ""
    row = store.query(
        f"""SELECT count(*), count("end"), min("end") FROM (
              SELECT "end" FROM session_totals {newest} ORDER BY "end" DESC NULLS LAST LIMIT {limit})""",
        params,
    )[0]
    return row[2] if row[0] == row[1] == limit else None


def _quiet_sessions(store: Store, ended_since: datetime | None = None) -> list[str]:
    """The sessions with signals (so with activity) and no response at all; only those that ended no
    earlier than `ended_since`, when given."""
    ended = "AND g.end_ts >= ?" if ended_since else ""
    params = [ended_since] if ended_since else []
    candidates = [str(row[0]) for row in store.query(_QUIET_CANDIDATES_SQL.format(ended=ended), params)]
    if len(candidates) > QUIET_LOOKUP_MAX:
        return [str(row[0]) for row in store.query(_QUIET_SQL.format(ended=ended), params)]
    if not candidates:
        return []
    marks = ", ".join("?" * len(candidates))
    answered = {row[0] for row in store.query(f"SELECT k FROM session_totals WHERE k IN ({marks})", candidates)}
    return [k for k in candidates if k not in answered]


def count_sessions(store: Store) -> int:
    """Every session `list_sessions` lists: those with responses and those without usage."""
    answered = store.query("SELECT count(*) FROM session_totals")[0][0]
    return int(answered) + len(_quiet_sessions(store))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _escaped(text: str) -> str:
    """LIKE wildcards in the user's text match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
