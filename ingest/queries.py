"""Pane-specific reads for the dashboard that the reports module does not cover.

Each function takes an open Store and returns plain rows. The Live pane runs
every few seconds, so its queries start from a time window (`ts >= since`)
and only then look at the whole history of the few sessions found there;
nothing here scans all of history per tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tiermon.ingest.pricing import BATCH_MULTIPLIER, LONG_CONTEXT_THRESHOLD, US_GEO_MULTIPLIER
from tiermon.ingest.reports import ReportFilter, blocks
from tiermon.ingest.store import PRICE_JOIN, Store

CACHE_5M_SECONDS = 5 * 60
CACHE_1H_SECONDS = 60 * 60
CACHE_WARN_SHARE = 0.8
"""SPEC §4.8: idle for this share of the cache lifetime means the cache is about to expire."""
CACHE_HINT_MIN_TOKENS = 20_000
"""Below this context a cache expiry costs too little to be worth a hint."""
ONE_M_WINDOW = 1_000_000

_CONTEXT = "r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens"
_SUBAGENT = "(r.is_sidechain OR r.agent_id IS NOT NULL)"


def live_sessions(
    store: Store, *, now: datetime, window: timedelta, limit: int = 50
) -> list[dict[str, Any]]:
    """Sessions with activity since `now - window`, newest activity first, with their live state.

    Keys: session_id, source_kind, project, branch, model, tier, cost_usd, unpriced,
    context_tokens, context_window, last_activity, idle_seconds, cache_lifetime, cache_state
    ('warm' | 'expiring' | 'expired' | None), cache_hit_ratio, alerts, warnings.
    """
    since = now - window
    rows = store.query_dicts(
        f"""
        WITH act AS (
            SELECT session_id, max(ts) AS last_activity FROM (
                SELECT session_id, ts FROM responses WHERE ts >= ?
                UNION ALL SELECT session_id, ts FROM events WHERE ts >= ? AND session_id IS NOT NULL
            ) GROUP BY session_id ORDER BY last_activity DESC LIMIT ?
        ),
        spend AS (
            SELECT r.session_id, sum(r.cost_usd) AS cost_usd, bool_or(NOT r.priced) AS unpriced,
                   any_value(r.source_kind) AS source_kind,
                   sum(r.cache_read_tokens) / nullif(sum({_CONTEXT}), 0) AS cache_hit_ratio
            FROM responses r JOIN act USING (session_id) GROUP BY r.session_id
        ),
        head AS (
            SELECT r.session_id,
                   arg_max(r.model, r.ts) AS model, arg_max(r.model_base, r.ts) AS model_base,
                   arg_max(r.tier, r.ts) AS tier,
                   arg_max(r.project, r.ts) AS project, arg_max(r.git_branch, r.ts) AS branch,
                   arg_max({_CONTEXT}, r.ts) AS context_tokens, max(r.ts) AS last_response,
                   arg_max(r.cache_write_1h_tokens > 0, r.ts)
                       FILTER (WHERE r.cache_write_1h_tokens + r.cache_write_5m_tokens > 0) AS one_hour
            FROM responses r JOIN act USING (session_id)
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
            CASE WHEN head.model IN (SELECT model FROM prices) THEN head.model ELSE head.model_base END)
        ORDER BY act.last_activity DESC, act.session_id
        """,
        [since, since, limit],
    )
    badges = alert_counts(store, [r["session_id"] for r in rows])
    for row in rows:
        row.update(badges.get(row["session_id"], {"alerts": 0, "warnings": 0}))
        _cache_hint(row, now)
    return rows


def _cache_hint(row: dict[str, Any], now: datetime) -> None:
    """How long the session has been idle against its prompt-cache lifetime (SPEC §4.8)."""
    lifetime = CACHE_1H_SECONDS if row.pop("one_hour", False) else CACHE_5M_SECONDS
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


def alert_counts(store: Store, sessions: list[str]) -> dict[str, dict[str, int]]:
    """Alerts and warn-level alerts per session; empty until the signals tables exist."""
    if not sessions or not has_table(store, "alerts"):
        return {}
    rows = store.query(
        """SELECT session_id, count(*), count(*) FILTER (WHERE severity = 'warn')
           FROM alerts WHERE session_id IN (SELECT unnest(?)) GROUP BY session_id""",
        [sessions],
    )
    return {sid: {"alerts": n, "warnings": warn} for sid, n, warn in rows}


def has_table(store: Store, name: str) -> bool:
    return bool(store.query("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [name]))


def spend_split(store: Store, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Cost and requests by main chain vs subagents and by tier, for [since, until)."""
    return store.query_dicts(
        f"""SELECT CASE WHEN {_SUBAGENT} THEN 'subagent' ELSE 'main' END AS chain, r.tier,
                   count(*) AS requests, coalesce(sum(r.cost_usd), 0) AS cost_usd
            FROM responses r WHERE r.ts >= ? AND r.ts < ?
            GROUP BY ALL ORDER BY chain, r.tier""",
        [since, until],
    )


_SAVED_RATE = """(CASE WHEN p.lc_input IS NOT NULL
       AND r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens > {threshold}
  THEN p.lc_input - p.lc_cache_read ELSE p.input - p.cache_read END)
 * (CASE WHEN r.speed = 'fast' THEN coalesce(p.fast_multiplier, 1) ELSE 1 END)
 * (CASE WHEN r.inference_geo = 'us' THEN {us} ELSE 1 END)
 * (CASE WHEN r.is_batch THEN {batch} ELSE 1 END)""".format(
    threshold=LONG_CONTEXT_THRESHOLD, us=US_GEO_MULTIPLIER, batch=BATCH_MULTIPLIER
)
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
    today = now.replace(tzinfo=timezone.utc).astimezone(ReportFilter(tz=tz).zone()).date()
    active = [b for b in blocks(store, ReportFilter(since=today - timedelta(days=1), tz=tz), now) if b["is_active"]]
    return active[-1] if active else None
