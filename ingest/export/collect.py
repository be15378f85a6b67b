"""Reading one selection out of the store into Arrow tables, every string cleaned on the way out.

Responses and events come from DuckDB; switches, subagents, alerts and advice
from the signals engine when it is installed, so an export works without it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from tiermon.ingest.export.cleaning import _clean, _clean_value
from tiermon.ingest.export.model import TABLES, EmptySelection, ExportData
from tiermon.ingest.export.selection import Selection
from tiermon.ingest.export.tables import _json_default
from tiermon.ingest.reports import TOKEN_FIELDS
from tiermon.ingest.store import Store
from tiermon.ingest.times import naive_utc

TIERS = ("haiku", "sonnet", "opus", "other")

_SIGNAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "switches": ("session_id", "at", "from_model", "to_model", "from_tier", "to_tier", "direction", "cause"),
    "subagents": ("session_id", "agent_id", "agent_type", "model", "tier", "requests", "cost_usd"),
    "alerts": ("session_id", "kind", "severity", "start", "end"),
    "advice": ("session_id", "kind", "from_tier", "to_tier", "turn", "start", "end", "cost_usd",
               "counterfactual_cost_usd"),
}  # fmt: skip
"""Columns of a signal table that comes back empty, so every file still has a header."""


def collect(store: Store, selection: Selection, *, include_text: bool = False) -> ExportData:
    """Every table of the export for `selection`; EmptySelection when no API response matches."""
    where, params = selection.where()
    con = store.cursor()  # a fresh cursor: relations must not meet an unfinished result
    try:
        responses = _fetch(con, f"SELECT r.* FROM responses r WHERE {where} ORDER BY r.ts NULLS LAST, r.k", params)
        if responses.num_rows == 0:
            raise EmptySelection("no API responses match these filters: nothing exported")
        ids = sorted(set(responses.column("session_id").to_pylist()) - {None})
        events = _events(con, selection, ids)
        signals = _signals(store, ids, selection)
        tables = {
            "responses": responses, "events": events, "sessions": _sessions(con, where, params, signals),
            "tiers": _fetch(con, _TIERS_SQL.format(where=where), params),
        }  # fmt: skip
    finally:
        con.close()
    tables = {name: _clean(table, redacting=not include_text) for name, table in tables.items()}
    for name, rows in signals.items():
        cleaned = [_clean_value(row, redacting=not include_text) for row in rows]
        tables[name] = _clean(_records_table(cleaned, _SIGNAL_COLUMNS[name]), redacting=False)
    tables = {name: tables[name] for name in TABLES}
    return ExportData(
        selection=selection, include_text=include_text, tables=tables,
        price_version=store.meta("price_version"), schema_version=store.schema_version(),
    )  # fmt: skip


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


def _events(con: duckdb.DuckDBPyConnection, selection: Selection, ids: list[str]) -> pa.Table:
    """The selected sessions' timeline; with a date range, only what happened inside it."""
    clause, params = selection.time_where()
    if clause != "TRUE":
        clause = f"(r.ts IS NULL OR ({clause}))"
    con.register("export_sessions", pa.table({"session_id": pa.array(ids, pa.string())}))
    try:
        return _fetch(
            con,
            f"""SELECT r.* FROM events r WHERE r.session_id IN (SELECT session_id FROM export_sessions) AND {clause}
                ORDER BY r.session_id, r.ts NULLS FIRST, r.file_path, r.line_offset, r.k""",
            params,
        )
    finally:
        con.unregister("export_sessions")


_SUMS = ", ".join(f"sum(r.{f})::BIGINT AS {f}" for f in TOKEN_FIELDS)
_TIER_COSTS = ", ".join(
    f"CASE WHEN count(*) FILTER (WHERE r.tier = '{t}') = 0 THEN 0 ELSE sum(r.cost_usd) FILTER (WHERE r.tier = '{t}')"
    f" END AS cost_{t}"
    for t in TIERS
)
"""Per tier: 0 where the tier was not used, NULL (unpriced, never $0) where none of its requests had a price."""
_UNPRICED_TOKENS = (
    "coalesce(sum(r.input_tokens + r.output_tokens + r.cache_read_tokens + r.cache_write_5m_tokens"
    " + r.cache_write_1h_tokens) FILTER (WHERE NOT r.priced), 0)::BIGINT AS unpriced_tokens"
)

_SESSIONS_SQL = f"""
SELECT s.*, ss.context_limit, ss.max_context, round(ss.max_context / nullif(ss.context_limit, 0), 4)
       AS max_context_share
FROM (
    SELECT r.session_id, arg_min(r.project, r.ts) AS project, arg_max(r.git_branch, r.ts) AS git_branch,
           any_value(r.source_kind) AS source_kind, min(r.ts) AS start, max(r.ts) AS "end",
           count(*) AS requests, {_SUMS}, sum(r.cost_usd) AS cost_usd,
           count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests, {_UNPRICED_TOKENS}, {_TIER_COSTS},
           count(*) FILTER (WHERE r.is_sidechain) AS subagent_requests,
           string_agg(DISTINCT r.model, ' ' ORDER BY r.model) AS models
    FROM responses r WHERE {{where}} GROUP BY r.session_id
) s LEFT JOIN session_signals ss ON ss.k = s.session_id
ORDER BY s.start, s.session_id
"""
"""`max_context_share`: the session's largest request as a share of where its model compacts (SPEC §4.5)."""

_TIERS_SQL = f"""
SELECT r.tier, count(*) AS requests, {_SUMS}, sum(r.cost_usd) AS cost_usd,
       count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests, {_UNPRICED_TOKENS},
       string_agg(DISTINCT r.model, ' ' ORDER BY r.model) AS models
FROM responses r WHERE {{where}} GROUP BY r.tier
ORDER BY CASE r.tier WHEN 'haiku' THEN 0 WHEN 'sonnet' THEN 1 WHEN 'opus' THEN 2 ELSE 3 END, r.tier
"""


def _sessions(con: duckdb.DuckDBPyConnection, where: str, params: list[Any],
              signals: dict[str, list[dict[str, Any]]]) -> pa.Table:  # fmt: skip
    """One summary row per session, with how many switches, subagents, alerts and advice it has."""
    table = _fetch(con, _SESSIONS_SQL.format(where=where), params)
    ids = table.column("session_id").to_pylist()
    for name in ("switches", "subagents", "alerts", "advice"):
        seen: dict[str, set[Any]] = {}
        for i, row in enumerate(signals[name]):  # subagent rows are per agent and model: count agents
            seen.setdefault(str(row.get("session_id")), set()).add(row.get("agent_id") if name == "subagents" else i)
        table = table.append_column(name, pa.array([len(seen.get(s, ())) for s in ids], pa.int64()))
    return table


def _signals(store: Store, ids: list[str], selection: Selection) -> dict[str, list[dict[str, Any]]]:
    """Switches, subagents, alerts and advice of the sessions."""
    from tiermon.ingest.signals.views import list_advice, list_alerts, session_subagents, session_switches

    wanted = set(ids)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, per_session in (("switches", session_switches(store, ids)), ("subagents", session_subagents(store, ids))):
        out[name] = [{"session_id": sid, **row} for sid in ids for row in per_session.get(sid, [])]
    for name, lister in (("alerts", list_alerts), ("advice", list_advice)):
        if len(ids) <= 20:  # `session` matches a prefix: keep only the session asked for
            rows = [row for sid in ids for row in lister(store, session=sid) if row.get("session_id") == sid]
        else:
            rows = [row for row in lister(store, session=None) if row.get("session_id") in wanted]
        out[name] = sorted(rows, key=lambda r: (str(r.get("session_id")), str(r.get("start") or "")))
    out["switches"] = [r for r in out["switches"] if _in_range(r.get("at"), selection)]
    for name in ("alerts", "advice"):
        out[name] = [r for r in out[name] if _in_range(r.get("start"), selection)]
    return out


def _in_range(value: Any, selection: Selection) -> bool:
    """Whether a signal's moment falls inside --since/--until (unknown moments are kept)."""
    moment = naive_utc(value)
    if moment is None:
        return True
    low, high = selection.bounds()
    return (low is None or moment >= low) and (high is None or moment < high)


def _records_table(rows: list[dict[str, Any]], fallback: tuple[str, ...]) -> pa.Table:
    """Rows of open shape as a table: the union of their keys, nested values as JSON text."""
    columns: dict[str, None] = dict.fromkeys(fallback if not rows else ())
    for row in rows:
        columns.update(dict.fromkeys(row))
    data: dict[str, pa.Array] = {}
    for name in columns:
        values = [_flat(row.get(name)) for row in rows]
        try:
            data[name] = pa.array(values) if rows else pa.array([], pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            data[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(data)


def _flat(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict, set)):
        return json.dumps(value, default=_json_default, sort_keys=True)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
