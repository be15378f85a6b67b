"""Provides the reading side of the signals: what the panes, reports and CLI ask, a query or two each.

Every function takes an open Store (read-only is fine) and returns plain dicts
with naive-UTC datetimes. The expensive parts were computed by the engine at
ingest time; these only filter and join small tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from tiermon.ingest.queries import span_rows
from tiermon.ingest.signals.cache import lifetime
from tiermon.ingest.store import Store
from tiermon.ingest.times import nulls_last

ALERT_KINDS = (
    "model_switch", "thrash", "question_churn", "context_high", "compaction", "reread", "api_error",
    "cache_rebuild",
)  # fmt: skip
ADVICE_KINDS = ("escalate", "de-escalate")
SEVERITIES = ("info", "warn")
ADVICE_NOTE = (
    "The counterfactual re-prices the same tokens on the other tier's reference model; "
    "it does not predict a different conversation. All figures are estimates at list price."
)
"""Shown once wherever advice is shown."""

Moment = date | datetime


class SessionNotFound(LookupError):
    """No session, or more than one, matches what the user typed; the message is one line."""


# -- alerts and advice ------------------------------------------------------------


def list_alerts(
    store: Store,
    *,
    since: Moment | None = None,
    until: Moment | None = None,
    session: str | None = None,
    kind: str | Sequence[str] | None = None,
    severity: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts, newest first. `session` is an id or a prefix; dates bound whole UTC days."""
    where, params = _filters(since, until, session, kind)
    if severity:
        where.append("severity = ?")
        params.append(severity)
    return _alert_rows(store, where, params, limit)


def _alert_rows(
    store: Store, where: list[str], params: list[Any], limit: int | None
) -> list[dict[str, Any]]:
    sql = """SELECT session_id, project, kind, severity, start_ts AS start, end_ts AS "end", turn, agent_id,
                    message, figures
             FROM alerts WHERE {where} ORDER BY start_ts DESC, k {limit}"""
    return [_with_figures(r) for r in _newest(store, "alerts", sql, where, params, limit)]


def list_advice(
    store: Store,
    *,
    since: Moment | None = None,
    until: Moment | None = None,
    session: str | None = None,
    kind: str | Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Escalate / de-escalate places, newest first; see ADVICE_NOTE for what counterfactuals mean."""
    where, params = _filters(since, until, session, kind)
    return _advice_rows(store, where, params, limit)


def _advice_rows(
    store: Store, where: list[str], params: list[Any], limit: int | None
) -> list[dict[str, Any]]:
    sql = """SELECT session_id, project, kind, from_tier, to_tier, to_model, turn, start_ts AS start,
                    end_ts AS "end", cost_usd, counterfactual_cost_usd, saving_usd, reason, figures
             FROM advice WHERE {where} ORDER BY start_ts DESC, k {limit}"""
    return [_with_figures(r) for r in _newest(store, "advice", sql, where, params, limit)]


def _newest(
    store: Store, table: str, sql: str, where: list[str], params: list[Any], limit: int | None
) -> list[dict[str, Any]]:
    """`sql` (newest first by start_ts) with `where`; with a limit, only over the rows from the start of the
    `limit`-th newest on.

    Why: at half a million alerts, sorting every row to show the newest 2000 cost most of a
    pane's budget. Sorting the start column alone finds where the list ends (2-3 ms); the
    rows before it are then the only ones read whole. Ties at that start are all read, and
    the sort and limit of `sql` keep the same rows as a sort of everything would.
    """
    clauses = " AND ".join(where) or "TRUE"
    cut = nth_newest_start(store, table, limit, clauses, params) if limit else None
    if cut is not None:
        clauses, params = f"{clauses} AND start_ts >= ?", [*params, cut]
    return store.query_dicts(sql.format(where=clauses, limit=_limit(limit)), params)


def nth_newest_start(
    store: Store, table: str, n: int, where: str = "TRUE", params: list[Any] | None = None
) -> datetime | None:
    """The start of the `n`-th newest row of `table` (alerts, advice) matching `where`; None when fewer
    rows have a start. Sorts the start column alone: 2-3 ms at half a million rows."""
    cut = store.query(
        f"SELECT start_ts FROM {table} WHERE {where} ORDER BY start_ts DESC NULLS LAST LIMIT 1 OFFSET ?",
        [*(params or []), n - 1],
    )
    return cut[0][0] if cut and isinstance(cut[0][0], datetime) else None


def _filters(
    since: Moment | None,
    until: Moment | None,
    session: str | None,
    kind: str | Sequence[str] | None,
) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append("start_ts >= ?")
        params.append(_start_of(since))
    if until is not None:
        if isinstance(until, datetime):
            where.append("start_ts <= ?")
            params.append(until)
        else:
            where.append("start_ts < ?")
            params.append(datetime.combine(until + timedelta(days=1), time.min))
    if session:
        where.append("session_id LIKE ? ESCAPE '\\'")
        params.append(_like_prefix(session))
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    if kinds:
        where.append(f"kind IN ({', '.join('?' * len(kinds))})")
        params.extend(kinds)
    return where, params


def _start_of(moment: Moment) -> datetime:
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time.min)


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _limit(limit: int | None) -> str:
    return f"LIMIT {int(limit)}" if limit else ""


def _with_figures(row: dict[str, Any]) -> dict[str, Any]:
    """The row with its figures decoded: by msgspec (a quarter of json's time, which was 36 ms for the
    Advice pane's 2,000 rows), by json where the text holds what only json reads (NaN)."""
    text = row.get("figures")
    if not text:
        row["figures"] = {}
        return row
    try:
        row["figures"] = msgspec.json.decode(text)
    except msgspec.DecodeError:
        row["figures"] = json.loads(text)
    return row


# -- per session -------------------------------------------------------------------


def session_switches(store: Store, session_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Model switches per session, in time order (SPEC §5 `switches`)."""
    ids = list(session_ids)
    if not ids:
        return {}
    rows = store.query_dicts(
        f"""SELECT session_id, "at", turn, from_model, to_model, from_tier, to_tier, direction, cause, detail
            FROM switches WHERE session_id IN ({_marks(ids)}) ORDER BY session_id, "at", k""",
        ids,
    )
    return _group(rows)


def session_subagents(store: Store, session_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """One row per subagent and model, per session (SPEC §5 `subagents`)."""
    ids = list(session_ids)
    if not ids:
        return {}
    rows = store.query_dicts(
        f"""SELECT u.session_id, u.agent_id, u.agent_type, a.description, a.parent_tool_use_id, u.model, u.tier,
                   u.requests, u.cost_usd, u.priced, u.input_tokens, u.output_tokens, u.cache_read_tokens,
                   u.cache_write_5m_tokens, u.cache_write_1h_tokens, u.first_ts, u.last_ts
            FROM agent_usage u LEFT JOIN agents a ON a.k = u.session_id || ':' || u.agent_id
            WHERE u.session_id IN ({_marks(ids)}) ORDER BY u.session_id, u.first_ts, u.agent_id, u.model""",
        ids,
    )
    return _group(rows)


def haiku_subagent_summary(
    store: Store, session_ids: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Haiku subagent calls per session and agent type, with their share of the session's cost."""
    ids = list(session_ids) if session_ids is not None else None
    where = f"AND u.session_id IN ({_marks(ids)})" if ids else ""
    if ids is not None and not ids:
        return []
    return store.query_dicts(
        f"""SELECT u.session_id, any_value(s.project) AS project, u.agent_type,
                   count(DISTINCT u.agent_id)::INTEGER AS agents, sum(u.requests)::INTEGER AS calls,
                   sum(u.input_tokens)::BIGINT AS input_tokens, sum(u.output_tokens)::BIGINT AS output_tokens,
                   sum(u.cache_read_tokens)::BIGINT AS cache_read_tokens,
                   sum(u.cache_write_5m_tokens + u.cache_write_1h_tokens)::BIGINT AS cache_write_tokens,
                   sum(u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_5m_tokens
                       + u.cache_write_1h_tokens)::BIGINT AS tokens,
                   sum(u.cost_usd) AS cost_usd, any_value(s.cost_usd) AS session_cost_usd,
                   CASE WHEN any_value(s.cost_usd) > 0 THEN sum(u.cost_usd) / any_value(s.cost_usd) END AS share
            FROM agent_usage u LEFT JOIN session_signals s ON s.k = u.session_id
            WHERE u.tier = 'haiku' {where}
            GROUP BY u.session_id, u.agent_type ORDER BY u.session_id, cost_usd DESC""",
        ids or [],
    )


def session_states(store: Store, session_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Per-session state for the Live pane: current model, context fill, cache figures, alert badges."""
    ids = list(session_ids) if session_ids is not None else None
    if ids is not None and not ids:
        return []
    where = f"WHERE session_id IN ({_marks(ids)})" if ids else ""
    rows = store.query_dicts(
        f"""SELECT * EXCLUDE (k, start_ts, end_ts), start_ts AS start, end_ts AS "end"
            FROM session_signals {where} ORDER BY end_ts DESC""",
        ids or [],
    )
    for r in rows:
        limit = r.get("context_limit") or r.get("context_window")
        r["context_share"] = (
            (r["context_tokens"] / limit)
            if limit and r.get("context_tokens") is not None
            else None
        )
    return rows


def cache_expiring(
    store: Store, now: datetime, *, share: float = 0.8, min_context: int = 50_000
) -> list[dict[str, Any]]:
    """Sessions idle for over `share` of their cache lifetime, not yet expired, with a large context.

    `now` is naive UTC. Their next request will pay to rebuild the cache unless it comes soon.
    """
    rows = store.query_dicts(
        """SELECT session_id, project, current_model, context_tokens, cache_ttl_seconds, last_main_ts
           FROM session_signals
           WHERE last_main_ts IS NOT NULL AND context_tokens >= ?
             AND last_main_ts > ? - INTERVAL 1 HOUR AND last_main_ts <= ?""",
        [min_context, now, now],
    )
    out = []
    for r in rows:
        ttl = r["cache_ttl_seconds"] or lifetime(False)
        idle = (now - r["last_main_ts"]).total_seconds()
        if share * ttl < idle < ttl:
            r["idle_seconds"] = idle
            r["expires_at"] = r["last_main_ts"] + timedelta(seconds=ttl)
            r["seconds_left"] = ttl - idle
            out.append(r)
    return sorted(out, key=lambda r: r["seconds_left"])


_TIMELINE_COLUMNS = (
    "ts, k, model, tier, agent_id, is_sidechain, project, git_branch, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_5m_tokens, cache_write_1h_tokens, cost_usd, priced"
)
"""The response columns the timeline and its model breakdown read."""


def session_timeline(store: Store, session_id: str) -> dict[str, Any]:
    """One session for people and scripts: turns, responses, switches, subagents, compactions, alerts, advice."""
    sid = resolve_session(store, session_id)
    head = store.query_dicts(
        """SELECT session_id, project, git_branch, start_ts AS start, end_ts AS "end", cost_usd, models,
                  subagent_cost_usd, current_model, current_tier, context_tokens, context_window, context_limit,
                  max_context, cache_hit_ratio, cache_ttl_seconds, unpriced_requests, unpriced_tokens,
                  subagent_unpriced_tokens
           FROM session_signals WHERE k = ?""",
        [sid],
    )
    session: dict[str, Any] = head[0] if head else {"session_id": sid, "models": []}
    # Only the row groups of the session's span are read (see span_rows).
    own, params = span_rows(_TIMELINE_COLUMNS, "= ?", [sid], session.get("start"), session.get("end"))
    if not head:  # API logs have no signals: the head comes from the responses themselves
        session.update(store.query_dicts(
            f"""SELECT arg_min(project, ts) AS project, arg_max(git_branch, ts) AS git_branch, min(ts) AS start,
                       max(ts) AS "end", sum(cost_usd) AS cost_usd, list(DISTINCT model ORDER BY model) AS models,
                       arg_max(model, ts) AS current_model, arg_max(tier, ts) AS current_tier,
                       count(*) FILTER (WHERE NOT priced)::INTEGER AS unpriced_requests
                FROM ({own})""",
            params,
        )[0])
    session["model_breakdown"] = store.query_dicts(
        f"""SELECT model, any_value(tier) AS tier, count(*)::INTEGER AS requests, sum(cost_usd) AS cost_usd,
                  bool_and(priced) AS priced, sum(output_tokens)::BIGINT AS output_tokens
           FROM ({own}) GROUP BY model ORDER BY cost_usd DESC NULLS LAST, model""",
        params,
    )
    turns = store.query_dicts(
        """SELECT turn, start_ts AS start, end_ts AS "end", prompt, tier, models, responses, subagent_responses,
                  tool_calls, tool_errors, failed_attempts, cost_usd, main_cost_usd, unpriced_tokens, output_tokens,
                  max_context, asks, needless_ask, interrupts, dominant_tool, struggled
           FROM turns WHERE session_id = ? ORDER BY turn""",
        [sid],
    )
    responses = store.query_dicts(
        f"""SELECT ts, model, tier, agent_id, is_sidechain,
                  (input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens)::BIGINT
                      AS context_tokens,
                  output_tokens, cost_usd
           FROM ({own}) ORDER BY ts, k""",
        params,
    )
    alerts = _alert_rows(store, ["session_id = ?"], [sid], None)
    alerts.sort(key=lambda a: (nulls_last(a["start"]), a["kind"]))
    compactions = [
        {"ts": a["start"], "trigger": a["figures"].get("trigger"), "pre_tokens": a["figures"].get("pre_tokens"),
         "post_tokens": a["figures"].get("post_tokens"), "cost_usd": a["figures"].get("compaction_cost_usd")}
        for a in alerts if a["kind"] == "compaction"
    ]  # fmt: skip
    advice = _advice_rows(store, ["session_id = ?"], [sid], None)
    return {
        "session": session,
        "turns": turns,
        "responses": responses,
        "switches": session_switches(store, [sid]).get(sid, []),
        "subagents": session_subagents(store, [sid]).get(sid, []),
        "compactions": compactions,
        "alerts": alerts,
        "advice": sorted(advice, key=lambda a: (nulls_last(a["turn"]), a["kind"])),
        "note": ADVICE_NOTE,
    }


def resolve_session(store: Store, text: str) -> str:
    """The one session whose id is `text` or starts with it."""
    if not text:
        raise SessionNotFound("no session given")
    if store.query("SELECT 1 FROM session_signals WHERE k = ?", [text]):
        return text
    pattern = _like_prefix(text)
    # The small per-session table first; the big ones only for sessions the engine skips (API logs).
    rows = store.query("SELECT k FROM session_signals WHERE k LIKE ? ESCAPE '\\' LIMIT 6", [pattern])
    if not rows:
        rows = store.query(
            "SELECT DISTINCT session_id FROM responses WHERE session_id LIKE ? ESCAPE '\\' LIMIT 6", [pattern]
        )
    ids: list[str] = sorted(r[0] for r in rows if r[0])
    if not ids:
        raise SessionNotFound(f"no session matches {text!r}")
    if len(ids) > 1:
        more = ", …" if len(ids) > 3 else ""
        raise SessionNotFound(f"{text!r} matches several sessions: {', '.join(ids[:3])}{more}")
    return ids[0]


# -- pipeline health -----------------------------------------------------------------


def health(store: Store) -> dict[str, Any]:
    """What tiermon could not account for (SPEC §4.9), as numbers.

    Response and API-error figures come from the counters every write keeps
    (`response_counts`, meta `api_errors`): a refresh reads a few rows, not millions.
    """
    total, unpriced, responses = store.query(
        """SELECT coalesce(sum(tokens), 0), coalesce(sum(tokens) FILTER (WHERE NOT priced), 0),
                  coalesce(sum(requests), 0) FROM response_counts"""
    )[0]
    files, size = store.query("SELECT count(*), coalesce(sum(size), 0) FROM files")[0]
    return {
        "unknown_entry_types": store.query_dicts(
            "SELECT entry_type, version, n FROM entry_types WHERE NOT known ORDER BY n DESC, entry_type, version"
        ),
        "versions": [r[0] for r in store.query(
            "SELECT DISTINCT version FROM entry_types WHERE coalesce(version, '') <> '' ORDER BY version"
        )],
        "unpriced_models": store.query_dicts(
            """SELECT model, sum(requests)::INTEGER AS requests, sum(tokens)::BIGINT AS tokens
                FROM response_counts WHERE NOT priced GROUP BY model HAVING sum(requests) > 0
                ORDER BY tokens DESC, model"""
        ),
        "unpriced_token_share": (unpriced / total) if total else 0.0,
        "unmapped_models": store.query_dicts(
            """SELECT model, min(agent) AS agent, sum(requests)::INTEGER AS requests
               FROM response_counts WHERE tier = 'other' GROUP BY model HAVING sum(requests) > 0
               ORDER BY requests DESC, model"""
        ),
        "quarantined": store.query("SELECT count(*) FROM quarantine")[0][0],
        "quarantine_latest": store.query_dicts(
            "SELECT file_path, line_offset, reason, \"at\" FROM quarantine ORDER BY \"at\" DESC, k LIMIT 5"
        ),
        "files_tailed": files,
        "bytes_tailed": size,
        "responses": int(responses),
        "api_errors": int(store.meta("api_errors") or 0),
        "alerts": dict(store.query("SELECT kind, count(*) FROM alerts GROUP BY kind ORDER BY kind")),
    }  # fmt: skip


# -- helpers -------------------------------------------------------------------------


def _marks(ids: Sequence[str]) -> str:
    return ", ".join("?" * len(ids))


def _group(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.pop("session_id"), []).append(r)
    return out
