"""Provides the local side of a push: which rows are new or changed, and remembering what was sent.

What was sent is kept in the local store's `team_pushed` table (key ->
digest of the row as sent), scoped by a prefix naming the server's sink id,
the user and the machine, so a push sends only rows that differ since.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tiermon.ingest.reports import TOKEN_FIELDS
from tiermon.ingest.signals import views
from tiermon.ingest.store import Store
from tiermon.ingest.team.redaction import SignalRow, redact_signal
from tiermon.ingest.team.schema import PUSH_FORMAT, RESPONSE_COLUMNS

LOCAL_TABLE = "team_pushed"

_PROJECT_NAME = r"""CASE WHEN r.project IS NULL THEN NULL
  ELSE coalesce(nullif(regexp_extract(rtrim(r.project, '/\'), '[^/\\]+$'), ''), r.project) END"""
"""The last part of the project's path (SPEC §9: folder names travel, home paths do not)."""


def _has_local_table(store: Store) -> bool:
    return bool(store.query("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [LOCAL_TABLE]))


def _changed_responses(store: Store, prefix: str, user: str, machine: str) -> pa.Table:
    """Responses whose row as it would be sent differs from what was sent last (or never was), by key."""
    tokens = ", ".join(f"coalesce(r.{f}, 0)::BIGINT AS {f}" for f in TOKEN_FIELDS)
    digest = ", ".join(f"q.{c}::VARCHAR" for c in RESPONSE_COLUMNS)
    seen = f"LEFT JOIN {LOCAL_TABLE} p ON p.k = (? || d.k) WHERE p.digest IS DISTINCT FROM d.digest"
    params: list[Any] = [user, machine]
    if _has_local_table(store):
        params.append(prefix)
    else:
        seen = ""
    return store.arrow(
        f"""WITH q AS (
              SELECT r.k, ?::VARCHAR AS user_name, ?::VARCHAR AS machine, r.source_kind, r.session_id,
                     r.agent_id, a.agent_type, r.is_sidechain, r.ts, r.model, r.tier, {tokens},
                     r.cost_usd, r.priced, {_PROJECT_NAME} AS project, r.git_branch, r.agent, r.vendor
              FROM responses r LEFT JOIN agents a ON a.session_id = r.session_id AND a.agent_id = r.agent_id
            ), d AS (SELECT q.*, md5('{PUSH_FORMAT}' || list_value({digest})::VARCHAR) AS digest FROM q)
            SELECT d.* FROM d {seen} ORDER BY d.k""",
        params,
    )


def _digest_table(pairs: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"k": [k for k, _ in pairs], "digest": [d for _, d in pairs]}, schema=_PAIR_SCHEMA)


_PAIR_SCHEMA = pa.schema([("k", pa.string()), ("digest", pa.string())])


def _remember(db_path: Path, done: list[tuple[str, pa.Table]]) -> None:
    """Record what the server now holds, in one short write to the local store."""
    if not done:
        return
    with Store.open(db_path) as store:
        store.execute(f"CREATE TABLE IF NOT EXISTS {LOCAL_TABLE} (k VARCHAR PRIMARY KEY, digest VARCHAR)")
        with store.transaction():
            for prefix, table in done:
                store.insert_arrow(
                    LOCAL_TABLE, table.append_column("prefix", pa.array([prefix] * table.num_rows, pa.string())),
                    f"INSERT OR REPLACE INTO {LOCAL_TABLE} SELECT prefix || k, digest FROM arrow_rows",
                )


def _changed_signals(store: Store, prefix: str, user: str, machine: str) -> tuple[list[SignalRow], bool]:
    """Redacted alerts, advice and switches that differ from what was sent; False when the store has none yet."""
    rows: list[SignalRow] = []
    try:
        for signal, raw in _signal_sources(store):
            redacted = redact_signal(signal, raw, user, machine)
            if redacted is not None:
                rows.append(redacted)
    except duckdb.Error:  # a store the signals engine has not set up yet: responses still go
        return [], False
    unique = {r.k: r for r in rows}
    sent: dict[str, str] = {}
    if _has_local_table(store):
        sent = dict(store.query(
            f"SELECT substr(k, {len(prefix) + 1}), digest FROM {LOCAL_TABLE} WHERE starts_with(k, ?)", [prefix]
        ))  # fmt: skip
    return [r for k, r in sorted(unique.items()) if sent.get(k) != r.digest], True


def _signal_sources(store: Store) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every stored alert, advice and model switch, unfiltered."""
    for row in views.list_alerts(store):
        yield "alert", row
    for row in views.list_advice(store):
        yield "advice", row
    ids = [r[0] for r in store.query("SELECT DISTINCT session_id FROM responses WHERE session_id IS NOT NULL")]
    for sid, switches in views.session_switches(store, ids).items():
        for row in switches:
            yield "switch", {"session_id": sid, "kind": "model_switch", **row}
