"""Provides `refresh`: every signal of SPEC §4 recomputed for the sessions an ingest pass touched.

The ingest runner calls `refresh` inside its write connection after each
pass. For each batch of sessions it reads their responses and events with one
query per table (fetched as Arrow, turned into Python rows column by column),
computes every signal in plain Python (a session of a few hundred responses
takes milliseconds), then deletes the batch's rows from the signal tables and
inserts the new ones (a parameterised VALUES statement for a live session's
few rows, Arrow for a rebuild's many), in one transaction. Readers therefore
see a session's signals either before or after a pass, never half.

A large refresh from a caller that allows it (the `ingest` command: a first
ingest, a rules change) computes in forked workers (`pool`), one batch of
sessions each, while this process keeps the single store connection.

When the thresholds, the prices or the rules themselves change (a fingerprint
kept in `meta`, see `staleness`), every session is recomputed once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tiermon.ingest.config import Thresholds
from tiermon.ingest.gc_pause import paused_gc
from tiermon.ingest.pricing import PriceTable
from tiermon.ingest.signals import pool, writes
from tiermon.ingest.signals.advice import Advice, find_advice
from tiermon.ingest.signals.base import (
    AgentMeta,
    Alert,
    Event,
    Response,
    SessionRows,
    priced_sum,
    rounded,
    turn_at,
)
from tiermon.ingest.signals.cache import cache_ttl, hit_ratio, rebuild_alerts
from tiermon.ingest.signals.churn import churn_alerts, mark_asks, needless_in_window
from tiermon.ingest.signals.context import compaction_alerts, context_alerts, find_compactions
from tiermon.ingest.signals.errors import api_error_alerts
from tiermon.ingest.signals.limits import Limits, learned_limits, response_limit
from tiermon.ingest.signals.reread import Reread, find_rereads, reread_alerts
from tiermon.ingest.signals.staleness import FINGERPRINT_KEY, STALE_AGENTS_SQL, fingerprint as signals_fingerprint
from tiermon.ingest.signals.subagents import Agent, AgentUsage, agent_usage, find_agents
from tiermon.ingest.signals.switches import Switch, find_switches, switch_alerts
from tiermon.ingest.signals.thrash import Thrash, find_thrash, thrash_alerts
from tiermon.ingest.signals.turns import Turn, build_turns, mark_escalations
from tiermon.ingest.signals.writes import SignalTables
from tiermon.ingest.store import Store

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 40_000
"""Responses and events loaded per batch (per worker when parallel): bounds the Python rows held
at once, whatever the sizes of the sessions. A single batch of 1 GiB of transcripts' 150 k rows,
in two processes, pushed a first ingest's memory to 455 MB."""
UNCOUNTED_SESSIONS = 64
"""Up to this many sessions form one batch without counting their rows first."""
REBUILD_WRITE_BATCHES = 4
"""A rebuild writes the signal rows of this many batches at a time (each commit costs a WAL flush)."""

_EVENT_KINDS = (
    "'prompt', 'interrupt', 'text', 'tool_use', 'tool_result', 'command', 'command_stdout', 'system', 'api_error'"
)
"""Event kinds the signals read; `meta`, `summary`, `injected` and the like are left in the store."""

_RESPONSES_SQL = """
SELECT session_id, ts, agent_id, is_sidechain, model, model_base, tier, input_tokens, output_tokens,
       cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_usd, speed, inference_geo,
       is_batch, message_id, agent, vendor, project, git_branch
FROM responses
WHERE session_id IN ({ids}) AND agent IS DISTINCT FROM 'api' AND ts IS NOT NULL{span}
ORDER BY session_id, ts, k
"""

_EVENTS_SQL = f"""
SELECT session_id, ts, agent_id, is_sidechain, kind, subtype, name, tool_use_id, text, is_error, model,
       ref_agent_id, pre_tokens, "trigger", message_id
FROM events
WHERE session_id IN ({{ids}}) AND ts IS NOT NULL{{span}}
  AND kind IN ({_EVENT_KINDS})
  AND NOT (kind = 'text' AND is_sidechain)
  AND (kind <> 'system' OR subtype IN ('compact_boundary', 'model_fallback', 'context_window'))
ORDER BY session_id, ts, file_path, line_offset, k
"""

_IDS = "SELECT unnest(?::VARCHAR[])"
"""The batch's session ids as one list parameter: binding thousands of `?` costs more than the query."""

_SESSION_SPANS_SQL = """
SELECT session_id, sum(n)::BIGINT, min(first_ts), max(last_ts) FROM (
    SELECT session_id, count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts
    FROM responses WHERE session_id IN ({ids}) AND ts IS NOT NULL GROUP BY session_id
    UNION ALL
    SELECT session_id, count(*), min(ts), max(ts)
    FROM events WHERE session_id IN ({ids}) AND ts IS NOT NULL GROUP BY session_id
) GROUP BY session_id
"""
"""Rows and time span per session: batches are cut to a bounded size, and each batch's reads are
bounded by its span, so DuckDB skips the row groups of other times."""

_SPAN = " AND ts BETWEEN ? AND ?"

_ALL_SPANS_SQL = _SESSION_SPANS_SQL.replace("session_id IN ({ids}) AND ", "")
"""Every session's rows and span: a rebuild asks for all of them, and a list of 250 k ids costs seconds."""

_ALL_SESSIONS_SQL = """
SELECT DISTINCT session_id FROM responses UNION SELECT DISTINCT session_id FROM events
"""

_META_SQL = """
SELECT agent_id, agent_type, description, tool_use_id FROM agent_meta
WHERE session_id IS NULL OR session_id IN ({ids})
"""


@dataclass
class SessionSignals:
    """Everything computed for one session, ready to be written."""

    rows: SessionRows
    turns: list[Turn]
    switches: list[Switch]
    agents: list[Agent]
    usage: list[AgentUsage]
    alerts: list[Alert]
    advice: list[Advice]
    window: int | None = None
    """Context window of the model the main chain is on now."""
    limit: int | None = None
    """Where that model compacts (SPEC §4.5): what the context fill is a share of."""


def refresh(
    store: Store, sessions: Iterable[str], thresholds: Thresholds, prices: PriceTable, *, parallel: bool = False
) -> int:
    """Recompute the signals of `sessions` from the store; returns how many sessions were refreshed.

    With `parallel`, a large refresh (a first ingest, a rules change) computes in
    worker processes; callers that run threads of their own (the dashboard) leave
    it off, since forking a threaded process is only safe for a known caller.
    """
    fingerprint = signals_fingerprint(thresholds, prices)
    todo = {s for s in sessions if s}
    rebuild = store.meta(FINGERPRINT_KEY) != fingerprint
    if rebuild:
        todo |= {r[0] for r in store.query(_ALL_SESSIONS_SQL) if r[0]}
    todo |= {r[0] for r in store.query(STALE_AGENTS_SQL) if r[0]}
    ids = sorted(todo)
    workers = pool.workers() if parallel and len(ids) >= pool.PARALLEL_MIN_SESSIONS else 1
    batches = list(_batches(store, ids, BATCH_ROWS * workers, every=rebuild))
    limits = learned_limits(store) if batches else Limits()
    if rebuild and batches:
        writes.clear(store)  # every session is recomputed: one delete now instead of one per batch and table
    pending: SignalTables = {name: [] for name in writes.OWNED_TABLES}
    pending_ids: list[str] = []
    for n, (chunk, span) in enumerate(batches, 1):
        with paused_gc():
            if workers > 1:
                tables = _parallel_tables(store, chunk, span, thresholds, prices, workers, limits)
            else:
                tables = signal_tables(group(fetch(store, chunk, span), chunk), thresholds, prices, limits)
        last = n == len(batches)
        if not rebuild:
            writes.write(store, chunk, tables, None)
            continue
        # A rebuild writes a few batches at a time: each commit costs a WAL flush whatever its size.
        for name, rows in tables.items():
            pending[name].extend(rows)
        pending_ids.extend(chunk)
        if last or n % REBUILD_WRITE_BATCHES == 0:
            # The fingerprint goes in with the last batch: a rebuild cut short is resumed next time.
            writes.write(store, pending_ids, pending, fingerprint if last else None, replace=False)
            pending = {name: [] for name in writes.OWNED_TABLES}
            pending_ids = []
    if rebuild and not ids:
        store.set_meta(FINGERPRINT_KEY, fingerprint)
    return len(ids)


def _parallel_tables(
    store: Store,
    session_ids: list[str],
    span: Span,
    thresholds: Thresholds,
    prices: PriceTable,
    workers: int,
    limits: Limits,
) -> SignalTables:
    """Fetch here (the store has one connection), compute in `workers` processes, gather the rows."""
    parts = [session_ids[i::workers] for i in range(workers)]  # interleaved: big and small sessions spread out
    fetched = [fetch(store, part, span, columnar=True) for part in parts]
    results = pool.fork_map(
        lambda i: signal_tables(group(fetched[i], parts[i]), thresholds, prices, limits), range(len(parts))
    )
    tables: SignalTables = {name: [] for name in writes.OWNED_TABLES}
    for result in results:
        for name, rows in result.items():
            tables[name].extend(rows)
    return tables


Span = tuple[datetime, datetime] | None
"""The time span a batch's rows lie in, when known."""


def _batches(store: Store, ids: list[str], max_rows: int, every: bool = False) -> Iterator[tuple[list[str], Span]]:
    """Runs of sessions holding about `max_rows` rows each (a bigger session goes alone), with their span.

    Sessions are taken in order of their first row, so a batch covers a short stretch
    of time and its reads skip the rest of the store. A live pass touches a handful
    of sessions: those go in one batch without counting, which would scan the
    session column of the whole store.
    """
    if len(ids) <= UNCOUNTED_SESSIONS:
        yield from ([(ids, None)] if ids else [])
        return
    found = store.query(_ALL_SPANS_SQL) if every else store.query(_SESSION_SPANS_SQL.format(ids=_IDS), [ids, ids])
    wanted = set(ids) if every else None
    spans = {sid: (n, first, last) for sid, n, first, last in found if wanted is None or sid in wanted}
    empty = [sid for sid in ids if sid not in spans]  # no timed rows: nothing for the signals to read
    if empty:
        yield empty, None
    batch: list[str] = []
    rows = 0
    span: Span = None
    for sid in sorted(spans, key=lambda s: (spans[s][1], s)):
        n, start, end = spans[sid]
        if batch and rows + n > max_rows:
            yield batch, span
            batch, rows, span = [], 0, None
        batch.append(sid)
        rows += n
        span = (start, end) if span is None else (min(span[0], start), max(span[1], end))
    if batch:
        yield batch, span


# -- reading -----------------------------------------------------------------------


@dataclass
class Fetched:
    """A batch of sessions' rows as the store returned them: Python rows for a batch computed in this
    process, Arrow for one handed to a forked worker (compact, and left untouched by reference counts
    until the worker turns it into rows)."""

    responses: pa.Table | list[tuple[Any, ...]]
    events: pa.Table | list[tuple[Any, ...]]
    meta: dict[str, AgentMeta]


def fetch(store: Store, session_ids: list[str], span: Span = None, *, columnar: bool = False) -> Fetched:
    """One query per table, as Python rows, or as Arrow when `columnar` (for a worker).

    `span`, when given, must cover every timed row of these sessions; rows without a
    time are never read.
    """
    ids: list[Any] = [session_ids]
    sql = {"ids": _IDS, "span": _SPAN if span else ""}
    params = [session_ids, *span] if span else ids
    read = store.arrow if columnar else store.query
    responses = read(_RESPONSES_SQL.format(**sql), params)
    events = read(_EVENTS_SQL.format(**sql), params)
    meta = {r[0]: AgentMeta(r[1], r[2], r[3]) for r in store.query(_META_SQL.format(ids=_IDS), ids)}
    return Fetched(responses, events, meta)


def group(fetched: Fetched, session_ids: list[str]) -> list[SessionRows]:
    """Per-session `SessionRows`, in the order of `session_ids`; sessions without rows are left out."""
    by_session: dict[str, tuple[list[Response], list[Event], list[tuple[Any, ...]]]] = {
        s: ([], [], []) for s in session_ids
    }
    for row in _rows(fetched.responses):
        bucket = by_session[row[0]]
        bucket[0].append(Response(row[1], row[2], bool(row[3]), row[4] or "", row[5] or "", row[6] or "other",
                                  row[7] or 0, row[8] or 0, row[9] or 0, row[10] or 0, row[11] or 0, row[12],
                                  row[13], row[14], bool(row[15]), row[16], row[17] or "", row[18] or ""))  # fmt: skip
        bucket[2].append((row[3], row[19], row[20]))
    for row in _rows(fetched.events):
        by_session[row[0]][1].append(Event(row[1], row[2], bool(row[3]), *row[4:]))
    out = []
    for sid, (rs, es, places) in by_session.items():
        if not rs and not es:
            continue
        project, branch = _place(places)
        out.append(SessionRows(sid, project, branch, rs, es, fetched.meta))
    return out


def _rows(table: pa.Table | list[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """Rows as tuples; an Arrow table's converted column by column (far cheaper than row by row)."""
    if isinstance(table, list):
        return iter(table)
    return zip(*(column.to_pylist() for column in table.columns), strict=True)


def _place(places: list[tuple[Any, ...]]) -> tuple[str | None, str | None]:
    """Project (first cwd seen on the main chain, else anywhere) and the latest git branch."""
    ordered = sorted(places, key=lambda p: bool(p[0]))
    project = next((p[1] for p in ordered if p[1]), None)
    branch = next((p[2] for p in reversed(places) if p[2]), None)
    return project, branch


# -- computing ---------------------------------------------------------------------


def compute(
    rows: SessionRows, thresholds: Thresholds, prices: PriceTable, limits: Limits | None = None
) -> SessionSignals:
    """Every signal of one session; `limits` are the compaction points learned across sessions."""
    limits = limits or Limits()
    turns, prompt_times = build_turns(rows)
    mark_asks(turns, thresholds)
    switches = find_switches(rows)
    agents = find_agents(rows)
    thrashes = find_thrash(rows, thresholds, prompt_times)
    rereads = find_rereads(rows, thresholds)
    _mark_struggles(turns, thrashes, rereads, prompt_times)
    alerts = [
        *switch_alerts(switches),
        *thrash_alerts(thrashes),
        *churn_alerts(turns, thresholds),
        *context_alerts(rows, thresholds, prices, limits),
        *compaction_alerts(find_compactions(rows, agents)),
        *reread_alerts(rereads),
        *api_error_alerts(rows),
        *rebuild_alerts(rows, thresholds, prices),
    ]
    for a in alerts:
        if a.turn is None:
            a.turn = turn_at(prompt_times, a.start)
    alerts.sort(key=lambda a: (a.start, a.kind))
    needless = needless_in_window(turns, thresholds)
    advice = find_advice(turns, thrashes, rereads, needless, thresholds, prices)
    window, limit = response_limit(rows, rows.main[-1], prices, limits) if rows.main else (None, None)
    return SessionSignals(rows, turns, switches, agents, agent_usage(agents), alerts, advice, window, limit)


def _mark_struggles(
    turns: list[Turn], thrashes: list[Thrash], rereads: list[Reread], prompt_times: list[datetime]
) -> None:
    """Put the main chain's thrashes and re-read drift on their turns, then mark escalations."""
    by_n = {t.n: t for t in turns}
    for th in thrashes:
        if th.agent_id is None and th.turn in by_n:
            by_n[th.turn].thrash = True
    for r in rereads:
        if r.agent_id is None:
            for n in {turn_at(prompt_times, ts) for ts in r.drift_reads}:
                if n in by_n:
                    by_n[n].rereads += 1
    mark_escalations(turns)


# -- rows to write ----------------------------------------------------------------


def signal_tables(
    sessions: list[SessionRows], thresholds: Thresholds, prices: PriceTable, limits: Limits | None = None
) -> SignalTables:
    """Compute every session's signals and gather the rows of each owned table."""
    tables: SignalTables = {name: [] for name in writes.OWNED_TABLES}
    for rows in sessions:
        for name, table in table_rows(compute(rows, thresholds, prices, limits)).items():
            tables[name].extend(table)
    for table in tables.values():
        _unique_keys(table)
    return tables


def _unique_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    for row in rows:
        k = row["k"]
        if k in seen:
            seen[k] += 1
            row["k"] = f"{k}#{seen[k]}"
        else:
            seen[k] = 0
    return rows


def table_rows(s: SessionSignals) -> dict[str, list[dict[str, Any]]]:
    """The rows of every owned table for one session."""
    sid, project = s.rows.session_id, s.rows.project
    return {
        "alerts": [_alert_row(sid, project, a) for a in s.alerts],
        "advice": [_advice_row(sid, project, a) for a in s.advice],
        "switches": [_switch_row(sid, w, s.turns) for w in s.switches],
        "turns": [_turn_row(sid, t) for t in s.turns],
        "agent_usage": [_usage_row(sid, u) for u in s.usage],
        "agents": [_agent_row(sid, a) for a in s.agents],
        "session_signals": [_session_row(s)],
    }


def _json(figures: dict[str, Any]) -> str:
    return json.dumps(figures, default=str, ensure_ascii=False)


def _alert_row(sid: str, project: str | None, a: Alert) -> dict[str, Any]:
    return {
        "k": a.key(sid), "session_id": sid, "project": project, "kind": a.kind, "severity": a.severity,
        "start_ts": a.start, "end_ts": a.end, "turn": a.turn, "agent_id": a.agent_id,
        "message": " ".join(a.message.split()),
        "figures": _json(a.figures),
    }  # fmt: skip


def _advice_row(sid: str, project: str | None, a: Advice) -> dict[str, Any]:
    return {
        "k": f"{sid}:{a.turn}:{a.kind}", "session_id": sid, "project": project, "kind": a.kind,
        "from_tier": a.from_tier, "to_tier": a.to_tier, "to_model": a.to_model, "turn": a.turn,
        "start_ts": a.start, "end_ts": a.end, "cost_usd": rounded(a.cost),
        "counterfactual_cost_usd": rounded(a.counterfactual), "saving_usd": rounded(a.saving),
        "reason": a.reason, "figures": _json(a.figures),
    }  # fmt: skip


def _switch_row(sid: str, w: Switch, turns: list[Turn]) -> dict[str, Any]:
    turn = max((t.n for t in turns if t.n and t.start <= w.at), default=0)
    return {
        "k": f"{sid}:{w.at.isoformat()}", "session_id": sid, "at": w.at, "turn": turn,
        "from_model": w.from_model, "to_model": w.to_model, "from_tier": w.from_tier, "to_tier": w.to_tier,
        "direction": w.direction, "cause": w.cause, "detail": w.detail,
    }  # fmt: skip


def _turn_row(sid: str, t: Turn) -> dict[str, Any]:
    return {
        "k": f"{sid}:{t.n}", "session_id": sid, "turn": t.n, "start_ts": t.start, "end_ts": t.end,
        "prompt": t.prompt, "tier": t.tier, "models": t.models, "responses": len(t.responses),
        "subagent_responses": len(t.subagent_responses), "tool_calls": t.tool_calls,
        "tool_errors": t.tool_errors, "cost_usd": rounded(t.cost_or_none),
        "main_cost_usd": rounded(priced_sum(t.responses)[0]), "unpriced_tokens": t.unpriced_tokens,
        "output_tokens": t.output_tokens, "max_context": t.max_context, "asks": t.asks,
        "needless_ask": t.needless_ask, "model": t.model, "rung": t.rung, "vendor": _first(t, "vendor"),
        "agent": _first(t, "agent"), "dominant_tool": t.dominant_tool, "interrupts": t.interrupts,
        "failed_attempts": t.failed_attempts, "thrash": t.thrash, "rereads": t.rereads,
        "compactions": t.compactions, "struggled": t.struggled, "escalated": t.escalated,
        "recovered": t.recovered, "min_context": t.min_context,
        "input_tokens": sum(r.input for r in t.responses), "cache_read_tokens": sum(r.read for r in t.responses),
        "cache_write_5m_tokens": sum(r.w5 for r in t.responses),
        "cache_write_1h_tokens": sum(r.w1h for r in t.responses),
        "prompt_tokens": sum(r.context for r in t.responses),
        "subagent_cost_usd": rounded(priced_sum(t.subagent_responses)[0]) if t.subagent_responses else 0.0,
    }  # fmt: skip


def _first(t: Turn, attr: str) -> str | None:
    """The agent or vendor of the turn's main-chain responses (one session has one)."""
    return next((getattr(r, attr) for r in t.responses if getattr(r, attr)), None)


def _usage_row(sid: str, u: AgentUsage) -> dict[str, Any]:
    return {
        "k": f"{sid}:{u.agent_id}:{u.model}", "session_id": sid, "agent_id": u.agent_id,
        "agent_type": u.agent_type, "model": u.model, "tier": u.tier, "requests": u.requests,
        "input_tokens": u.input, "output_tokens": u.output, "cache_read_tokens": u.read,
        "cache_write_5m_tokens": u.w5, "cache_write_1h_tokens": u.w1h,
        "cost_usd": rounded(u.cost) if u.priced else None, "priced": u.priced,
        "first_ts": u.first_ts, "last_ts": u.last_ts,
    }  # fmt: skip


def _agent_row(sid: str, a: Agent) -> dict[str, Any]:
    return {
        "k": f"{sid}:{a.agent_id}", "session_id": sid, "agent_id": a.agent_id, "agent_type": a.agent_type,
        "description": a.description, "parent_tool_use_id": a.parent_tool_use_id, "first_ts": a.first_ts,
    }  # fmt: skip


def _session_row(s: SessionSignals) -> dict[str, Any]:
    rows = s.rows
    times = [r.ts for r in rows.responses] + [e.ts for e in rows.events]
    last = rows.main[-1] if rows.main else None
    side = [r for r in rows.responses if r.sidechain]
    return {
        "k": rows.session_id, "session_id": rows.session_id, "project": rows.project,
        "git_branch": rows.git_branch, "start_ts": min(times), "end_ts": max(times),
        "last_main_ts": last.ts if last else None,
        "cost_usd": rounded(priced_sum(rows.responses)[0]),
        "subagent_cost_usd": rounded(priced_sum(side)[0]),
        "unpriced_tokens": priced_sum(rows.responses)[1],
        "subagent_unpriced_tokens": priced_sum(side)[1],
        "unpriced_requests": sum(1 for r in rows.responses if r.cost is None),
        "models": list(dict.fromkeys(r.model for r in rows.responses)),
        "current_model": last.model if last else None, "current_tier": last.tier if last else None,
        "context_tokens": last.context if last else None,
        "context_window": s.window, "context_limit": s.limit,
        "max_context": max((r.context for r in rows.main), default=None),
        "prompt_tokens": sum(r.context for r in rows.responses),
        "cache_read_tokens": sum(r.read for r in rows.responses),
        "cache_hit_ratio": rounded(hit_ratio(rows.responses), 4),
        "cache_ttl_seconds": cache_ttl(rows.main),
        "turns": sum(1 for t in s.turns if t.n), "switches": len(s.switches), "subagents": len(s.agents),
        "alerts_warn": sum(1 for a in s.alerts if a.severity == "warn"),
        "alerts_info": sum(1 for a in s.alerts if a.severity == "info"),
        "api_errors": sum(1 for e in rows.events if e.kind == "api_error"),
        "compactions": len(rows.compaction_times()),
    }  # fmt: skip
