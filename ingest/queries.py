"""Pane-specific reads for the dashboard that the reports module does not cover.

Each function takes an open Store and returns plain rows. The Live pane runs
every few seconds, so its queries start from a time window (`ts >= since`)
and only then read the history of the few sessions found there, bounded by
the span `session_signals` records for them; nothing here scans all of
history per tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from tiermon.ingest.pricing import CURRENT_SQL, rate_sql, surcharge_sql
from tiermon.ingest.reports import ReportFilter, blocks
from tiermon.ingest.signals.cache import lifetime as cache_lifetime
from tiermon.ingest.store import PRICE_JOIN, Store

CACHE_WARN_SHARE = 0.8
"""SPEC §4.8: idle for this share of the cache lifetime means the cache is about to expire."""
CACHE_HINT_MIN_TOKENS = 20_000
"""Below this context a cache expiry costs too little to be worth a hint."""
ONE_M_WINDOW = 1_000_000

_CONTEXT = "r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens"
_SUBAGENT = "(r.is_sidechain OR r.agent_id IS NOT NULL)"


class SessionSpan(NamedTuple):
    """What `session_signals` records of a session: the span of its rows and its alert counts."""

    start: datetime
    end: datetime
    alerts_warn: int
    alerts_info: int
    context_limit: int | None = None
    """Where the session's model compacts (SPEC §4.5): the live fill is a share of this."""


_ACTIVE_SQL = """
WITH act AS (
    SELECT session_id, max(ts) AS last_activity FROM (
        SELECT session_id, ts FROM responses WHERE ts >= ?
        UNION ALL SELECT session_id, ts FROM events WHERE ts >= ? AND session_id IS NOT NULL
    ) GROUP BY session_id ORDER BY last_activity DESC LIMIT ?
)
SELECT session_id, last_activity FROM act
"""
"""Up to `limit` sessions with a response or an event since a moment, newest activity first."""

_LIVE_COLUMNS = (
    "session_id, ts, model, model_base, tier, project, git_branch, source_kind, cost_usd, priced, is_sidechain, "
    "agent_id, input_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens"
)

_LIVE_SQL = f"""
WITH act AS (SELECT unnest(?::VARCHAR[]) AS session_id, unnest(?::TIMESTAMP[]) AS last_activity),
own AS MATERIALIZED ({{own}}),
spend AS (
    SELECT r.session_id, sum(r.cost_usd) AS cost_usd, bool_or(NOT r.priced) AS unpriced,
           any_value(r.source_kind) AS source_kind,
           sum(r.cache_read_tokens) / nullif(sum({_CONTEXT}), 0) AS cache_hit_ratio
    FROM own r GROUP BY r.session_id
),
head AS (
    SELECT r.session_id,
           arg_max(r.model, r.ts) AS model, arg_max(r.model_base, r.ts) AS model_base,
           arg_max(r.tier, r.ts) AS tier,
           arg_min(r.project, r.ts) AS project, arg_max(r.git_branch, r.ts) AS branch,
           arg_max({_CONTEXT}, r.ts) AS context_tokens, max(r.ts) AS last_response,
           arg_max(r.cache_write_1h_tokens > 0, r.ts)
               FILTER (WHERE r.cache_write_1h_tokens + r.cache_write_5m_tokens > 0) AS one_hour
    FROM own r
    WHERE NOT {_SUBAGENT} AND r.model <> '<synthetic>'
    GROUP BY r.session_id
)
SELECT act.session_id, act.last_activity, spend.cost_usd, spend.unpriced, spend.source_kind,
       spend.cache_hit_ratio, head.model, head.tier, head.project, head.branch,
       head.context_tokens, head.last_response, head.one_hour,
       CASE WHEN head.model LIKE '%[1m]' THEN {ONE_M_WINDOW} ELSE p.context_window END AS context_window
FROM act
LEFT JOIN spend USING (session_id)
LEFT JOIN head USING (session_id)
LEFT JOIN prices p ON p.model = (
    CASE WHEN head.model IN (SELECT model FROM prices) THEN head.model ELSE head.model_base END) AND {CURRENT_SQL}
ORDER BY act.last_activity DESC, act.session_id
"""
"""The active sessions (`act`, from parameters) with their spend and latest main-chain state;
`{own}` is their responses, from `span_rows`."""


def live_sessions(
    store: Store, *, now: datetime, window: timedelta, limit: int = 50
) -> list[dict[str, Any]]:
    """Sessions with activity since `now - window`, newest activity first, with their live state.

    Keys: session_id, source_kind, project, branch, model, tier, cost_usd, unpriced,
    context_tokens, context_window (where the model compacts, once the signals know it), last_activity,
    idle_seconds, cache_lifetime, cache_state
    ('warm' | 'expiring' | 'expired' | None), cache_hit_ratio, alerts, warnings.
    """
    since = now - window
    active = store.query(_ACTIVE_SQL, [since, since, limit])
    if not active:
        return []
    ids = [sid for sid, _ in active]
    spans = _session_spans(store, [sid for sid in ids if sid is not None])
    earliest = _earliest(ids, spans)
    own, params = span_rows(_LIVE_COLUMNS, "IN (SELECT session_id FROM act)", [], earliest, None)
    lasts = [last for _, last in active]
    rows = store.query_dicts(_LIVE_SQL.format(own=own), [ids, lasts, *params])
    for row in rows:
        span = spans.get(row["session_id"])
        warn, info = (span.alerts_warn, span.alerts_info) if span else (0, 0)
        row.update(alerts=warn + info, warnings=warn)
        if span is not None and span.context_limit:
            row["context_window"] = span.context_limit
        _cache_hint(row, now)
    return rows


def _earliest(session_ids: list[Any], spans: dict[str, SessionSpan]) -> datetime | None:
    """The earliest start among the sessions, or None (no bound) when one has no signals row."""
    known = [sid for sid in session_ids if sid is not None]  # a NULL session id joins no rows
    if not known or any(sid not in spans for sid in known):
        return None
    return min(spans[sid].start for sid in known)


def _session_spans(store: Store, session_ids: list[str]) -> dict[str, SessionSpan]:
    """The `session_signals` span and alert counts of each session that has a row there.

    The engine writes a session's alerts and this row in one transaction, so the
    counts are those of its rows in `alerts` (whose severity is 'warn' or 'info').
    """
    if not session_ids:
        return {}
    rows = store.query(  # a list of constants lets DuckDB look each key up in the primary-key index
        f"""SELECT k, start_ts, end_ts, coalesce(alerts_warn, 0), coalesce(alerts_info, 0), context_limit
            FROM session_signals WHERE k IN ({", ".join("?" * len(session_ids))})""",
        session_ids,
    )
    return {k: SessionSpan(*span) for k, *span in rows}


def span_rows(
    columns: str, sessions: str, params: list[Any], start: datetime | None, end: datetime | None
) -> tuple[str, list[Any]]:
    """SQL and parameters for every response of some sessions, reading only their span of history.

    `sessions` completes `session_id ...` (`= ?`, `IN (...)`) and takes `params`; a None
    bound leaves that side open. An agent session's responses lie within its
    `session_signals` span [start_ts, end_ts], which every ingest pass refreshes before
    it lets go of the store, so bounding `ts` by it returns the same rows while DuckDB's
    zone maps skip the rest of history. Rows without a time, and API-log rows (which
    the signals do not cover), come whatever their time; on a store without API logs
    the column statistics prune that second branch before it runs.
    """
    sql = f"""SELECT {columns} FROM responses
        WHERE session_id {sessions} AND (ts BETWEEN ? AND ? OR ts IS NULL)
        UNION ALL
        SELECT {columns} FROM responses
        WHERE session_id {sessions} AND NOT (ts BETWEEN ? AND ?)
          AND source_kind = 'api'"""
    bounds = [datetime.min if start is None else start, datetime.max if end is None else end]
    return sql, [*params, *bounds, *params, *bounds]


def _cache_hint(row: dict[str, Any], now: datetime) -> None:
    """How long the session has been idle against its prompt-cache lifetime (SPEC §4.8)."""
    lifetime = cache_lifetime(row.pop("one_hour", False))
    last = row.pop("last_response", None)
    row["cache_lifetime"] = lifetime
    row["idle_seconds"] = max((now - last).total_seconds(), 0.0) if last else None
    idle = row["idle_seconds"]
    if idle is None or (row.get("context_tokens") or 0) < CACHE_HINT_MIN_TOKENS:
        row["cache_state"] = None
    elif idle >= lifetime:
        row["cache_state"] = "expired"
    elif idle >= CACHE_WARN_SHARE * lifetime:
        row["cache_state"] = "expiring"
    else:
        row["cache_state"] = "warm"


def spend_split(store: Store, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Cost and requests by main chain vs subagents and by tier, for [since, until); `cost_usd` is NULL
    where nothing had a price, and `unpriced_tokens` counts what the cost leaves out."""
    return store.query_dicts(
        f"""SELECT CASE WHEN {_SUBAGENT} THEN 'subagent' ELSE 'main' END AS chain, r.tier,
                   count(*) AS requests, sum(r.cost_usd) AS cost_usd,
                   coalesce(sum(r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_5m_tokens
                                + r.cache_write_1h_tokens) FILTER (WHERE r.cost_usd IS NULL), 0) AS unpriced_tokens
            FROM responses r WHERE r.ts >= ? AND r.ts < ?
            GROUP BY ALL ORDER BY chain, r.tier""",
        [since, until],
    )


_SAVED_RATE = f"""({rate_sql("input")} - {rate_sql("cache_read")}) * {surcharge_sql()}"""
"""Per-token price difference between reading a prompt token from cache and sending it as input."""


def cache_savings(store: Store, *, since: datetime, until: datetime) -> dict[str, Any]:
    """What cache reads would have cost as plain input, minus what they did cost, for [since, until)."""
    row = store.query_dicts(
        f"""SELECT coalesce(sum(r.cache_read_tokens), 0)::BIGINT AS cache_read_tokens,
                   coalesce(sum({_CONTEXT}), 0)::BIGINT AS prompt_tokens,
                   coalesce(sum(r.cache_read_tokens * {_SAVED_RATE}) / 1e6, 0) AS saved_usd
            FROM responses r {PRICE_JOIN}
            WHERE r.ts >= ? AND r.ts < ?""",
        [since, until],
    )[0]
    prompt = row.pop("prompt_tokens")
    row["hit_ratio"] = row["cache_read_tokens"] / prompt if prompt else 0.0
    return row


def files_by_source(store: Store) -> list[dict[str, Any]]:
    """Files tailed per source kind, with bytes, lines and the last time one was read."""
    return store.query_dicts(
        """SELECT source_kind, count(*) AS files, coalesce(sum(size), 0)::BIGINT AS bytes,
                  coalesce(sum(lines), 0)::BIGINT AS lines, max(last_ingest) AS last_ingest
           FROM files GROUP BY source_kind ORDER BY source_kind"""
    )


def current_block(store: Store, *, now: datetime, tz: str) -> dict[str, Any] | None:
    """The 5-hour block in progress at `now` (naive UTC), if any; reads one day of rows."""
    today = now.replace(tzinfo=UTC).astimezone(ReportFilter(tz=tz).zone()).date()
    active = [b for b in blocks(store, ReportFilter(since=today - timedelta(days=1), tz=tz), now) if b["is_active"]]
    return active[-1] if active else None
