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
    SELECT r.session_id, any_value(r.agent) AS agent, arg_min(r.project, r.ts) AS project,
           arg_max(r.git_branch, r.ts) FILTER (WHERE r.git_branch IS NOT NULL) AS branch,
           min(r.ts) AS start, max(r.ts) AS "end", count(*) AS requests,
           sum(r.cost_usd) AS cost_usd, count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests,
           list(DISTINCT r.model ORDER BY r.model) AS models
    FROM responses r
    WHERE r.session_id IS NOT NULL {agent} {newest}
    GROUP BY r.session_id
),
{quiet}
p AS (SELECT session_id, prompt FROM turns WHERE turn = 1 {first_turns})
SELECT s.*, p.prompt AS first_prompt, coalesce(g.turns, 0) AS turns
FROM every s LEFT JOIN p USING (session_id) LEFT JOIN session_signals g ON g.k = s.session_id
WHERE {where}
ORDER BY s."end" DESC NULLS LAST, s.session_id
{limit}
"""

_NEWEST_SQL = """
SELECT r.session_id FROM responses r WHERE r.session_id IS NOT NULL {agent}
GROUP BY 1 {having} ORDER BY max(r.ts) DESC, r.session_id LIMIT {limit}
"""
"""The ids of the newest sessions with responses: grouping by session for the end time alone takes a
tenth of grouping for every column (44 against 540 ms at 5 M responses), so a list with a limit and no
filter on the columns asks for these first, then aggregates only them."""

_QUIET_SQL = "SELECT k FROM session_signals WHERE len(models) = 0"
_ANSWERED_SQL = "SELECT DISTINCT session_id FROM responses WHERE session_id IN (SELECT unnest(?::VARCHAR[]))"
"""Sessions with activity but no responses: the signals' model list narrows them to a few (it is empty
for every session without responses, but for API batches too), then the responses decide. Asked as two
queries: one anti-join of the signals against 5 M responses took 400 ms, the IN-list probe ~20."""

_WITH_QUIET = """
quiet AS (
    SELECT k AS session_id, project, git_branch AS branch, start_ts AS start, end_ts AS "end"
    FROM session_signals WHERE k IN (SELECT unnest(?::VARCHAR[]))
),
quiet_agent AS (
    SELECT e.session_id, any_value(e.agent) AS agent FROM events e SEMI JOIN quiet USING (session_id) GROUP BY 1
),
every AS (
    SELECT * FROM s
    UNION ALL BY NAME
    SELECT quiet.*, a.agent, 0 AS requests, NULL::DOUBLE AS cost_usd, 0 AS unpriced_requests, []::VARCHAR[] AS models
    FROM quiet JOIN quiet_agent a USING (session_id)
),"""
"""Sessions with activity but no usage at all (Codex Desktop and legacy rollouts record none:
formats/codex.md) are listed with 0 requests and an unknown cost. Finding their agent scans the
events, so this part joins only when there are such sessions."""


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
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    agent_sql = ""
    agent_params: list[Any] = []
    if agents:  # before grouping the responses (a fifth of the time at 5 M), and on the sessions without any
        agent_sql = "AND r.agent IN (SELECT unnest(?::VARCHAR[]))"
        agent_params.append(list(agents))
        clauses.append("s.agent IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(agents))
    zone = ZoneInfo(tz)
    begins = _utc(datetime.combine(since, time.min, zone)) if since else None
    ends = _utc(datetime.combine(until + timedelta(days=1), time.min, zone)) if until else None
    if begins:
        clauses.append('s."end" >= ?')
        params.append(begins)
    if ends:
        clauses.append("s.start < ?")
        params.append(ends)
    if model:
        clauses.append("len(list_filter(s.models, lambda m: m ILIKE ? ESCAPE '\\')) > 0")
        params.append(f"%{_escaped(model)}%")
    if search:
        needle = f"%{_escaped(search.strip())}%"
        clauses.append(
            "(s.project ILIKE ? ESCAPE '\\' OR s.branch ILIKE ? ESCAPE '\\' OR p.prompt ILIKE ? ESCAPE '\\'"
            " OR s.session_id ILIKE ? ESCAPE '\\')"
        )
        params += [needle] * 4
    quiet_ids = _quiet_sessions(store)
    newest_sql = first_turns = ""
    newest_params: list[Any] = []
    first_params: list[Any] = []
    if limit and not search and not model:
        having = [sql for sql, bound in (("max(r.ts) >= ?", begins), ("min(r.ts) < ?", ends)) if bound]
        bounds = [bound for bound in (begins, ends) if bound]
        newest = _NEWEST_SQL.format(
            agent=agent_sql, having=f"HAVING {' AND '.join(having)}" if having else "", limit=int(limit)
        )
        ids = [row[0] for row in store.query(newest, [*agent_params, *bounds])]
        newest_sql = "AND r.session_id IN (SELECT unnest(?::VARCHAR[]))"
        # Their first prompts by key: a filter on k in the scan spares reading every session's prompt
        # (120 of 160 ms at 5 M when joined whole).
        first_turns = "AND list_contains(?::VARCHAR[], k)"
        newest_params = [ids]
        first_params = [[f"{session}:1" for session in (*ids, *quiet_ids)]]
    quiet = _WITH_QUIET if quiet_ids else "every AS (SELECT * FROM s),"
    quiet_params = [quiet_ids] if quiet_ids else []
    sql = _SESSIONS_SQL.format(
        agent=agent_sql, newest=newest_sql, quiet=quiet, first_turns=first_turns, where=" AND ".join(clauses),
        limit=f"LIMIT {int(limit)}" if limit else "",
    )  # fmt: skip
    rows = store.query_dicts(sql, [*agent_params, *newest_params, *quiet_params, *first_params, *params])
    for row in rows:
        row["requests"] = int(row["requests"])
        row["unpriced_requests"] = int(row["unpriced_requests"])
        if row["unpriced_requests"] == row["requests"]:
            row["cost_usd"] = None  # nothing priced, or no usage recorded: unknown, not $0 (SPEC §3)
        elif row["cost_usd"] is not None:
            row["cost_usd"] = round(row["cost_usd"], 6)
    return rows


def _quiet_sessions(store: Store) -> list[str]:
    """The sessions with signals (so with activity) and no response at all."""
    candidates = [row[0] for row in store.query(_QUIET_SQL)]
    if not candidates:
        return []
    answered = {row[0] for row in store.query(_ANSWERED_SQL, [candidates])}
    return [session for session in candidates if session not in answered]


def count_sessions(store: Store) -> int:
    """Every session `list_sessions` lists: those with responses and those without usage."""
    answered = store.query("SELECT count(DISTINCT session_id) FROM responses WHERE session_id IS NOT NULL")[0][0]
    return int(answered) + len(_quiet_sessions(store))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _escaped(text: str) -> str:
    """LIKE wildcards in the user's text match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
