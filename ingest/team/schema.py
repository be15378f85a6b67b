"""Provides the team server's schema: the tables tiermon owns, their columns, and the migrations.

The column dicts are the allow-list of what a push may send (SPEC §9):
rows are built from them, never from the local events table.
"""

from __future__ import annotations

from tiermon.ingest.reports import TOKEN_FIELDS

SCHEMA = "tiermon"
"""The PostgreSQL schema tiermon owns on the team server."""
TEAM_SCHEMA_VERSION = 2
"""Bumped whenever MIGRATIONS gains a step."""
PUSH_FORMAT = "2"
"""Part of every row digest: changing what a row holds re-sends every row once."""
_LOCK_ID = 0x74696572_6D6F6E
"""pg_advisory_xact_lock key that serialises migrations of concurrent first pushes."""


RESPONSE_COLUMNS: dict[str, str] = {
    "k": "TEXT",  # message_id ':' request_id, as in the local store
    "user_name": "TEXT",
    "machine": "TEXT",
    "source_kind": "TEXT",
    "session_id": "TEXT",
    "agent_id": "TEXT",
    "agent_type": "TEXT",  # the local agents table's type, NULL on the main chain
    "is_sidechain": "BOOLEAN",
    "ts": "TIMESTAMP",  # naive UTC
    "model": "TEXT",
    "tier": "TEXT",
    **{name: "BIGINT" for name in TOKEN_FIELDS},
    "cost_usd": "DOUBLE PRECISION",
    "priced": "BOOLEAN",
    "project": "TEXT",  # the last part of the project's path only
    "git_branch": "TEXT",
    "agent": "TEXT",  # claude-code | codex | gemini-cli | ... (SPEC §2.4)
    "vendor": "TEXT",
}
"""One row per response; what a push sends, in this order."""

SIGNAL_COLUMNS: dict[str, str] = {
    "k": "TEXT",  # md5 of the signal's identity
    "user_name": "TEXT",
    "machine": "TEXT",
    "signal": "TEXT",  # alert | advice | switch
    "session_id": "TEXT",
    "kind": "TEXT",
    "severity": "TEXT",
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "turn": "INTEGER",
    "agent_id": "TEXT",
    "from_tier": "TEXT",
    "to_tier": "TEXT",
    "cost_usd": "DOUBLE PRECISION",
    "counterfactual_cost_usd": "DOUBLE PRECISION",
    "figures": "JSONB",  # numbers and short labels only
}
"""Alerts, advice and model switches, reduced to their kind and figures."""


def _create(table: str, columns: dict[str, str], key: str) -> str:
    cols = ",\n  ".join(f"{name} {ddl}" for name, ddl in columns.items())
    return f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.{table} (
  {cols},
  pushed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY ({key})
)"""


def _v1() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key TEXT PRIMARY KEY, value TEXT)",
        _create("responses", RESPONSE_COLUMNS, "k"),
        f"CREATE INDEX IF NOT EXISTS responses_ts ON {SCHEMA}.responses (ts)",
        f"CREATE INDEX IF NOT EXISTS responses_session ON {SCHEMA}.responses (session_id)",
        _create("signals", SIGNAL_COLUMNS, "k"),
        f"CREATE INDEX IF NOT EXISTS signals_start ON {SCHEMA}.signals (start_ts)",
        f"CREATE INDEX IF NOT EXISTS signals_session ON {SCHEMA}.signals (session_id)",
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.members (
  user_name TEXT, machine TEXT, last_push TIMESTAMPTZ, pushed_responses BIGINT, pushed_signals BIGINT,
  tiermon_version TEXT, PRIMARY KEY (user_name, machine))""",
    ]


def _v2() -> list[str]:
    """Rows name their agent and vendor."""
    return [
        f"ALTER TABLE {SCHEMA}.responses ADD COLUMN IF NOT EXISTS agent TEXT",
        f"ALTER TABLE {SCHEMA}.responses ADD COLUMN IF NOT EXISTS vendor TEXT",
    ]


MIGRATIONS: dict[int, list[str]] = {1: _v1(), 2: _v2()}
"""Schema version -> statements that bring the server from version-1 to it."""

_RESPONSE_UPDATE_WHEN = """
WHERE excluded.output_tokens > t.output_tokens
   OR (excluded.output_tokens = t.output_tokens AND t.is_sidechain AND NOT excluded.is_sidechain)
   OR (excluded.output_tokens = t.output_tokens AND excluded.is_sidechain IS NOT DISTINCT FROM t.is_sidechain
       AND (excluded.cost_usd, excluded.priced, excluded.tier) IS DISTINCT FROM (t.cost_usd, t.priced, t.tier))"""
"""SPEC §3 across machines: keep the larger output, then the main-chain copy; a re-priced copy replaces its twin."""
