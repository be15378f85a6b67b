"""The DuckDB schema and its migrations: one place that says what the store holds.

Every table that grows with the data is keyed by a single VARCHAR column `k`:
DuckDB's ART index answers single-column conflicts in milliseconds, while a
composite key turns each upsert into a full scan (see PERF_NOTES §7).

The two big tables, `responses` and `events`, carry that key as a unique index
rather than a PRIMARY KEY constraint: an index can be dropped, so a first
backfill loads them without one and builds it once at the end (maintaining it
row by row cost a fifth of a cold ingest). `KEY_INDEXES` names them; the store
rebuilds a missing one when it opens.
"""

from __future__ import annotations

SCHEMA_VERSION = 12
"""Bumped whenever MIGRATIONS gains a step."""

RESPONSE_COLUMNS: dict[str, str] = {
    "k": "VARCHAR NOT NULL",  # message_id ':' request_id; unique index responses_k
    "source_kind": "VARCHAR",  # 'claude' | 'api'
    "session_id": "VARCHAR",  # Claude Code sessionId; for API logs the app tag (or file)
    "agent_id": "VARCHAR",  # subagent id, inline sidechain root, or NULL on the main chain
    "is_sidechain": "BOOLEAN",
    "ts": "TIMESTAMP",  # naive UTC
    "model": "VARCHAR",
    "model_base": "VARCHAR",  # model without -YYYYMMDD / [1m]
    "tier": "VARCHAR",  # haiku | sonnet | opus | other
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "cache_read_tokens": "BIGINT",
    "cache_write_5m_tokens": "BIGINT",
    "cache_write_1h_tokens": "BIGINT",
    "web_search_requests": "INTEGER",
    "speed": "VARCHAR",
    "inference_geo": "VARCHAR",
    "service_tier": "VARCHAR",
    "is_batch": "BOOLEAN",
    "stop_reason": "VARCHAR",
    "project": "VARCHAR",  # cwd for transcripts, app tag for API logs
    "git_branch": "VARCHAR",
    "version": "VARCHAR",  # Claude Code version
    "request_id": "VARCHAR",
    "message_id": "VARCHAR",
    "uuid": "VARCHAR",
    "parent_uuid": "VARCHAR",
    "file_path": "VARCHAR",
    "line_offset": "BIGINT",
    "cost_usd": "DOUBLE",  # NULL when the model has no price
    "priced": "BOOLEAN",
    "agent": "VARCHAR",  # claude-code | api | codex | gemini-cli | qwen-code | opencode (SPEC §2.4)
    "vendor": "VARCHAR",  # anthropic | openai | google | alibaba | local | ...
    "reasoning_tokens": "BIGINT",  # the reasoning share of output_tokens, where the source reports it
    "duration_ms": "BIGINT",  # generation time where the log records it (local models' tokens/s)
}
"""One row per deduplicated API response (SPEC §3)."""

EVENT_COLUMNS: dict[str, str] = {
    "k": "VARCHAR NOT NULL",  # uuid ':' block index, or file ':' offset; unique index events_k
    "session_id": "VARCHAR",
    "agent_id": "VARCHAR",
    "is_sidechain": "BOOLEAN",
    "ts": "TIMESTAMP",
    "uuid": "VARCHAR",
    "parent_uuid": "VARCHAR",
    # prompt | text | tool_use | tool_result | command | command_stdout | system
    # | compact_summary | meta | api_error | summary
    "kind": "VARCHAR",
    "subtype": "VARCHAR",  # system subtype, Task subagent_type, ...
    "name": "VARCHAR",  # tool name or slash command name
    "tool_use_id": "VARCHAR",
    "text": "VARCHAR",  # bounded: see the limits in rows.py
    "is_error": "BOOLEAN",
    "model": "VARCHAR",  # the model a tool result ran on (a skill), or a spawn call asked for
    "ref_agent_id": "VARCHAR",  # the subagent a spawn call's result names
    "pre_tokens": "BIGINT",  # context before a compaction; a limit reading's used share in basis points
    "trigger": "VARCHAR",  # compaction trigger (auto/manual); where a limit reading came from
    "message_id": "VARCHAR",
    "file_path": "VARCHAR",
    "line_offset": "BIGINT",
    "agent": "VARCHAR",
}
"""What the signals need besides usage: prompts, tools, results, commands, system entries."""

FILE_COLUMNS: dict[str, str] = {
    "path": "VARCHAR PRIMARY KEY",
    "source_kind": "VARCHAR",
    "dev": "BIGINT",
    "inode": "BIGINT",
    "head_hash": "VARCHAR",  # sha1 of the first HEAD_BYTES bytes
    "size": "BIGINT",
    "mtime": "DOUBLE",
    "offset": "BIGINT",  # just past the last complete line consumed
    "lines": "BIGINT",
    "first_ingest": "TIMESTAMP",
    "last_ingest": "TIMESTAMP",
    "tail_hash": "VARCHAR",  # sha1 of the HEAD_BYTES before offset: tells a rewrite to the same size
    "state": "BLOB",  # the source's parse state (JSON), so a file parses the same over several passes
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # path ':' offset
    "file_path": "VARCHAR",
    "line_offset": "BIGINT",
    "length": "BIGINT",
    "reason": "VARCHAR",
    "snippet": "VARCHAR",
    "at": "TIMESTAMP",
}

AGENT_META_COLUMNS: dict[str, str] = {
    "agent_id": "VARCHAR PRIMARY KEY",
    "session_id": "VARCHAR",
    "agent_type": "VARCHAR",
    "description": "VARCHAR",
    "tool_use_id": "VARCHAR",
}
"""Sidecar agent-<id>.meta.json files (2.1.x)."""

AGENT_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id ':' agent_id
    "session_id": "VARCHAR",
    "agent_id": "VARCHAR",
    "agent_type": "VARCHAR",  # Task subagent_type, meta.json agentType, 'warmup', 'compact', or 'subagent'
    "description": "VARCHAR",
    "parent_tool_use_id": "VARCHAR",
    "first_ts": "TIMESTAMP",
}
"""One row per subagent (agent file or inline sidechain root), maintained by the signals."""

ENTRY_TYPE_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # type ':' version
    "entry_type": "VARCHAR",
    "version": "VARCHAR",
    "known": "BOOLEAN",
    "n": "BIGINT",
}
"""Counts of entry types per Claude Code version, for pipeline health (SPEC §4.9)."""

PRICE_COLUMNS: dict[str, str] = {
    "model": "VARCHAR NOT NULL",  # the id responses are joined on (exact id or model_base)
    "valid_from": "TIMESTAMP NOT NULL",  # a response's ts must fall in [valid_from, valid_to)
    "valid_to": "TIMESTAMP NOT NULL",
    "vendor": "VARCHAR",  # anthropic | openai | google | ... (genai-prices provider id) | other
    "tier": "VARCHAR",
    "input": "DOUBLE",  # USD per million tokens
    "output": "DOUBLE",
    "write_5m": "DOUBLE",
    "write_1h": "DOUBLE",
    "cache_read": "DOUBLE",
    "lc_input": "DOUBLE",  # long-context rates, for a prompt above lc_threshold; NULL when none
    "lc_output": "DOUBLE",
    "lc_write_5m": "DOUBLE",
    "lc_write_1h": "DOUBLE",
    "lc_cache_read": "DOUBLE",
    "lc_threshold": "BIGINT",
    "fast_multiplier": "DOUBLE",
    "context_window": "BIGINT",
    "source": "VARCHAR",  # genai-prices <version>, override: <url>, or the user's price file
}
"""The price table in force (pricing.PriceTable), one row per model id and date window, so that SQL can price rows."""

TABLES: dict[str, dict[str, str]] = {
    "responses": RESPONSE_COLUMNS,
    "events": EVENT_COLUMNS,
    "files": FILE_COLUMNS,
    "quarantine": QUARANTINE_COLUMNS,
    "agent_meta": AGENT_META_COLUMNS,
    "agents": AGENT_COLUMNS,
    "entry_types": ENTRY_TYPE_COLUMNS,
    "prices": PRICE_COLUMNS,
}


def create_table_sql(name: str, columns: dict[str, str]) -> str:
    cols = ",\n  ".join(f'"{col}" {ddl}' for col, ddl in columns.items())
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}\n)"


def _v1() -> list[str]:
    stmts = [create_table_sql(name, cols) for name, cols in TABLES.items()]
    stmts += [
    ]
    return stmts


ALERT_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id ':' kind ':' chain ':' start
    "session_id": "VARCHAR",
    "project": "VARCHAR",
    # model_switch | thrash | question_churn | context_high | compaction | reread | api_error | cache_rebuild
    "kind": "VARCHAR",
    "severity": "VARCHAR",  # info | warn
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "turn": "INTEGER",  # 0 = before the first human prompt
    "agent_id": "VARCHAR",  # the chain it happened on; NULL = main chain
    "message": "VARCHAR",  # one readable line, plain text
    "figures": "VARCHAR",  # JSON object: the numbers the alert rests on
}
"""Signals of SPEC §4, one row per alert, rebuilt per session by the signals engine."""

ADVICE_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id ':' turn ':' kind
    "session_id": "VARCHAR",
    "project": "VARCHAR",
    "kind": "VARCHAR",  # escalate | de-escalate
    "from_tier": "VARCHAR",
    "to_tier": "VARCHAR",
    "to_model": "VARCHAR",  # the reference model the counterfactual is priced on
    "turn": "INTEGER",
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "cost_usd": "DOUBLE",
    "counterfactual_cost_usd": "DOUBLE",
    "saving_usd": "DOUBLE",  # cost - counterfactual: negative when the alternative costs more
    "reason": "VARCHAR",
    "figures": "VARCHAR",  # JSON object
}
"""Escalate / de-escalate places (SPEC §4.7)."""

SWITCH_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id ':' at
    "session_id": "VARCHAR",
    "at": "TIMESTAMP",  # the first response on the new model
    "turn": "INTEGER",
    "from_model": "VARCHAR",
    "to_model": "VARCHAR",
    "from_tier": "VARCHAR",
    "to_tier": "VARCHAR",
    "direction": "VARCHAR",  # up | down | same-tier
    "cause": "VARCHAR",  # command | skill | automatic
    "detail": "VARCHAR",  # the /model argument, the skill name, or what else lay between
}
"""Model switches on the main chain (SPEC §4.1)."""

TURN_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id ':' turn
    "session_id": "VARCHAR",
    "turn": "INTEGER",
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "prompt": "VARCHAR",  # the human prompt, plain text; NULL for turn 0
    "tier": "VARCHAR",  # the main chain's dominant tier in the turn
    "models": "VARCHAR[]",
    "responses": "INTEGER",  # main-chain responses
    "subagent_responses": "INTEGER",
    "tool_calls": "INTEGER",
    "tool_errors": "INTEGER",
    "cost_usd": "DOUBLE",  # main chain and subagents
    "main_cost_usd": "DOUBLE",
    "output_tokens": "BIGINT",
    "max_context": "BIGINT",
    "asks": "BOOLEAN",  # ends with a question or calls AskUserQuestion
    "needless_ask": "BOOLEAN",  # ... and the next prompt is a bare go-ahead
    "unpriced_tokens": "BIGINT",  # tokens of responses with no price (cost_usd leaves them out; NULL: none priced)
    "model": "VARCHAR",  # the main chain's most used model in the turn
    "rung": "VARCHAR",  # small | mid | large
    "vendor": "VARCHAR",
    "agent": "VARCHAR",
    "dominant_tool": "VARCHAR",  # the tool called most: the kind of work
    "interrupts": "INTEGER",
    "failed_attempts": "INTEGER",  # responses with a failing tool call (a parallel batch once)
    "thrash": "BOOLEAN",
    "rereads": "INTEGER",
    "compactions": "INTEGER",
    "struggled": "BOOLEAN",  # thrash, needless ask, re-read drift, interrupt or >= 3 failed attempts
    "escalated": "BOOLEAN",  # struggled, and a later turn ran a rung higher
    "recovered": "BOOLEAN",  # ... and that turn did not struggle
    "min_context": "BIGINT",
    "input_tokens": "BIGINT",  # main chain, as output_tokens: what a re-pricing of the turn needs
    "cache_read_tokens": "BIGINT",
    "cache_write_5m_tokens": "BIGINT",
    "cache_write_1h_tokens": "BIGINT",
    "prompt_tokens": "BIGINT",
    "subagent_cost_usd": "DOUBLE",
}
"""One row per turn (human prompt to the next), for the Session pane and the advice."""

AGENT_USAGE_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id ':' agent_id ':' model
    "session_id": "VARCHAR",
    "agent_id": "VARCHAR",
    "agent_type": "VARCHAR",
    "model": "VARCHAR",
    "tier": "VARCHAR",
    "requests": "INTEGER",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "cache_read_tokens": "BIGINT",
    "cache_write_5m_tokens": "BIGINT",
    "cache_write_1h_tokens": "BIGINT",
    "cost_usd": "DOUBLE",
    "priced": "BOOLEAN",
    "first_ts": "TIMESTAMP",
    "last_ts": "TIMESTAMP",
}
"""Subagent calls per agent and model (SPEC §4.2)."""

SESSION_SIGNAL_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id
    "session_id": "VARCHAR",
    "project": "VARCHAR",
    "git_branch": "VARCHAR",
    "start_ts": "TIMESTAMP",
    "end_ts": "TIMESTAMP",
    "last_main_ts": "TIMESTAMP",  # last main-chain response: when its cache was last touched
    "cost_usd": "DOUBLE",
    "subagent_cost_usd": "DOUBLE",
    "unpriced_requests": "INTEGER",
    "unpriced_tokens": "BIGINT",
    "subagent_unpriced_tokens": "BIGINT",
    "models": "VARCHAR[]",
    "current_model": "VARCHAR",
    "current_tier": "VARCHAR",
    "context_tokens": "BIGINT",  # of the last main-chain response
    "context_window": "BIGINT",
    "context_limit": "BIGINT",  # where the agent compacts (SPEC §4.5): the fill is a share of this
    "max_context": "BIGINT",
    "prompt_tokens": "BIGINT",  # input + cache read + cache writes, all responses
    "cache_read_tokens": "BIGINT",
    "cache_hit_ratio": "DOUBLE",
    "cache_ttl_seconds": "INTEGER",  # 3600 when the last cache writes were 1-hour writes, else 300
    "turns": "INTEGER",
    "switches": "INTEGER",
    "subagents": "INTEGER",
    "alerts_warn": "INTEGER",
    "alerts_info": "INTEGER",
    "api_errors": "INTEGER",
    "compactions": "INTEGER",
}
"""Per-session state the Live pane reads in one row: current model, context fill, cache, badges."""

SIGNAL_TABLES: dict[str, dict[str, str]] = {
    "alerts": ALERT_COLUMNS,
    "advice": ADVICE_COLUMNS,
    "switches": SWITCH_COLUMNS,
    "turns": TURN_COLUMNS,
    "agent_usage": AGENT_USAGE_COLUMNS,
    "session_signals": SESSION_SIGNAL_COLUMNS,
}
"""Tables the signals engine owns; every row carries its session so a session is rebuilt at once."""


def _v2() -> list[str]:
    return [create_table_sql(name, cols) for name, cols in SIGNAL_TABLES.items()]


KEY_INDEXES: dict[str, str] = {"responses": "responses_k", "events": "events_k"}
"""Table -> the unique index on its `k`."""


def key_index_sql(table: str) -> str:
    return f"CREATE UNIQUE INDEX {KEY_INDEXES[table]} ON {table} (k)"


def _v3() -> list[str]:
    """responses and events: the PRIMARY KEY constraint (which cannot be dropped) becomes a unique index."""
    stmts: list[str] = []
    for table, columns in (("responses", RESPONSE_COLUMNS), ("events", EVENT_COLUMNS)):
        stmts += [
            create_table_sql(f"{table}_v3", columns),
            f"INSERT INTO {table}_v3 BY NAME SELECT * FROM {table}",  # the columns of later versions stay NULL
            f"DROP TABLE {table}",
            f"ALTER TABLE {table}_v3 RENAME TO {table}",
            key_index_sql(table),
        ]
    return stmts


def _v4() -> list[str]:
    """Every row names its agent and vendor (SPEC §2.4); files keep their parse state and tail hash."""
    return [
        "ALTER TABLE responses ADD COLUMN IF NOT EXISTS agent VARCHAR",
        "ALTER TABLE responses ADD COLUMN IF NOT EXISTS vendor VARCHAR",
        "ALTER TABLE responses ADD COLUMN IF NOT EXISTS reasoning_tokens BIGINT",
        "ALTER TABLE events ADD COLUMN IF NOT EXISTS agent VARCHAR",
        "ALTER TABLE files ADD COLUMN IF NOT EXISTS tail_hash VARCHAR",
        "ALTER TABLE files ADD COLUMN IF NOT EXISTS state BLOB",
        "UPDATE responses SET vendor = 'anthropic',"
        " agent = CASE source_kind WHEN 'claude' THEN 'claude-code' ELSE source_kind END WHERE agent IS NULL",
        "UPDATE events SET agent = CASE WHEN session_id LIKE 'api:%' THEN 'api' ELSE 'claude-code' END"
        " WHERE agent IS NULL",
    ]



def _v5() -> list[str]:
    """prices: dated rows from genai-prices with vendor, long-context threshold and source. The table is a
    copy of PriceTable, so it is rebuilt empty and the fingerprint dropped: the next sync refills it."""
    return [
        "DROP TABLE IF EXISTS prices",
        create_table_sql("prices", PRICE_COLUMNS),
        "DELETE FROM meta WHERE key = 'price_fingerprint'",
    ]


def _v6() -> list[str]:
    """Responses keep how long the model took, where the log says (tokens per second)."""
    return ["ALTER TABLE responses ADD COLUMN IF NOT EXISTS duration_ms BIGINT"]


def _v7() -> list[str]:
    """Turns carry what the scorecard measures and sessions their context limit: the signal tables are
    derived data, so they are made again empty and the engine recomputes every session once."""
    stmts = []
    for name, cols in SIGNAL_TABLES.items():
        stmts += [f"DROP TABLE IF EXISTS {name}", create_table_sql(name, cols)]
    return [*stmts, "DELETE FROM meta WHERE key = 'signals_fingerprint'"]


def _v8() -> list[str]:
    """Sessions whose signals a report's pass left to compute: a report answers from responses alone,
    and whoever next shows signals (the dashboard, `ingest`, `alerts`…) computes them first."""
    return ["CREATE TABLE IF NOT EXISTS signals_owed (session_id VARCHAR PRIMARY KEY)"]


COUNT_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # model, tier, priced, agent joined by \x1f (NULL as \x00)
    "model": "VARCHAR",
    "tier": "VARCHAR",
    "priced": "BOOLEAN",
    "agent": "VARCHAR",
    "requests": "BIGINT",
    "tokens": "BIGINT",
}
"""`response_counts`: responses and their tokens per model, tier, priced and agent, kept by every write
of `responses` in the same transaction, so the Health pane reads a few rows instead of scanning millions."""

_TOKENS = "input_tokens + output_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens"
def _key_sql(*columns: str) -> str:
    """A row's counter key: the columns as text joined by \x1f, NULL as \x00 (a primary key holds no NULL)."""
    return "concat_ws(chr(31), " + ", ".join(f"coalesce({c}::VARCHAR, chr(0))" for c in columns) + ")"


_COUNT_KEY = _key_sql("model", "tier", "priced", "agent")


def count_delta_sql(rows: str, sign: str) -> str:
    """Add (`sign` '+') or take away ('-') the stored responses whose key is in `rows` to `response_counts`."""
    return f"""INSERT INTO response_counts
        SELECT {_COUNT_KEY}, model, tier, priced, agent, {sign}count(*), {sign}coalesce(sum({_TOKENS}), 0)
        FROM responses WHERE k IN (SELECT k FROM {rows}) GROUP BY ALL
        ON CONFLICT (k) DO UPDATE SET requests = response_counts.requests + excluded.requests,
                                      tokens = response_counts.tokens + excluded.tokens"""


COMPACTIONS_KEY = "compactions"
"""`meta` key counting the stored compaction events: what the learned compaction limits are keyed on.
Events are only ever added, so the count changes exactly when the set does."""
COMPACTIONS_RECOUNT_SQL = [
    f"DELETE FROM meta WHERE key = '{COMPACTIONS_KEY}'",
    f"""INSERT INTO meta SELECT '{COMPACTIONS_KEY}', count(*)::VARCHAR FROM events
        WHERE subtype = 'compact_boundary'""",
]

RECOUNT_SQL = [
    "DELETE FROM response_counts",
    f"""INSERT INTO response_counts
        SELECT {_COUNT_KEY}, model, tier, priced, agent, count(*), coalesce(sum({_TOKENS}), 0)
        FROM responses GROUP BY ALL""",
    "DELETE FROM meta WHERE key = 'api_errors'",
    "INSERT INTO meta SELECT 'api_errors', count(*)::VARCHAR FROM events WHERE kind = 'api_error'",
    *COMPACTIONS_RECOUNT_SQL,
]
"""`response_counts` and the `api_errors` and `compactions` counts made again from the rows: after a bulk
load, a re-pricing."""

API_ERRORS_DELTA_SQL = """UPDATE meta SET value = (value::BIGINT + (
    SELECT count(*) FROM events WHERE kind = 'api_error' AND k IN (SELECT k FROM {rows})) * {sign}1)::VARCHAR
WHERE key = 'api_errors'"""
"""The `api_errors` count in `meta`, moved by the api_error events of a batch (before: -, after: +)."""

COMPACTIONS_DELTA_SQL = f"""UPDATE meta SET value = (value::BIGINT + (
    SELECT count(*) FROM events WHERE subtype = 'compact_boundary' AND k IN (SELECT k FROM {{rows}}))
    * {{sign}}1)::VARCHAR
WHERE key = '{COMPACTIONS_KEY}'"""
"""The `compactions` count in `meta`, moved by the compaction events of a batch (before: -, after: +)."""


def _v9() -> list[str]:
    """Health reads counters instead of scanning responses and events: at 5 M responses the scans took
    ~0.3 s a refresh. The counters are made once here from the rows, then kept by every write."""
    return [create_table_sql("response_counts", COUNT_COLUMNS), *RECOUNT_SQL]


def _v10() -> list[str]:
    """The learned compaction limits are keyed on a count of compactions kept by every write: scanning
    every event for them took ~100 ms of each pass at 5 M responses."""
    return list(COMPACTIONS_RECOUNT_SQL)


SESSION_TOTAL_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # session_id
    "agent": "VARCHAR",
    "project": "VARCHAR",  # of the session's first response: a session that moved into a subfolder stays one project
    "project_ts": "TIMESTAMP",  # that response's time: what an appended row's project is weighed against
    "branch": "VARCHAR",  # the latest git branch named
    "branch_ts": "TIMESTAMP",  # when it was named: what an appended row's branch is weighed against
    "start": "TIMESTAMP",
    "end": "TIMESTAMP",
    "requests": "BIGINT",
    "cost_usd": "DOUBLE",
    "unpriced_requests": "BIGINT",
    "models": "VARCHAR[]",
    "first_prompt": "VARCHAR",  # the signals' first turn's prompt
    "turns": "INTEGER",  # the signals' turn count
}
"""`session_totals`: one row per session with responses, what the Sessions list shows of it. Every write
of `responses` keeps the columns made of responses, in the same transaction; every signals pass keeps
the last two. Grouping 5 M responses by session and joining each session's first prompt took ~0.5 s
a refresh; the list now reads a thousand rows of this table."""

_RESPONSE_TOTALS = """
SELECT r.session_id, any_value(r.agent) AS agent, arg_min(r.project, r.ts) AS project,
       min(r.ts) FILTER (WHERE r.project IS NOT NULL) AS project_ts,
       arg_max(r.git_branch, r.ts) FILTER (WHERE r.git_branch IS NOT NULL) AS branch,
       max(r.ts) FILTER (WHERE r.git_branch IS NOT NULL) AS branch_ts, min(r.ts) AS start,
       max(r.ts) AS "end", count(*) AS requests, sum(r.cost_usd) AS cost_usd,
       count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests, list(DISTINCT r.model ORDER BY r.model) AS models
FROM responses r WHERE r.session_id IS NOT NULL {where} GROUP BY r.session_id"""

_SIGNAL_TOTALS = """
SELECT g.k, p.prompt AS first_prompt, g.turns FROM session_signals g LEFT JOIN turns p ON p.k = g.k || ':1'
{where}"""

RETOTAL_SQL = [
    "DELETE FROM session_totals",
    f"""INSERT INTO session_totals SELECT r.*, g.first_prompt, g.turns
        FROM ({_RESPONSE_TOTALS.format(where="")}) r LEFT JOIN ({_SIGNAL_TOTALS.format(where="")}) g
        ON g.k = r.session_id""",
]
"""`session_totals` made again from the rows and the signals: after a bulk load, a re-pricing."""


MARK_REPLACED_SQL = """UPDATE session_totals SET requests = NULL
WHERE k IN (SELECT session_id FROM responses WHERE k IN (SELECT k FROM {rows}))"""
"""Before a write that may replace stored copies: mark the sessions those copies belong to for a regroup. A
copy's key does not hold its session (a resumed session's file, or an API log, repeats a transcript's
response under another session id), so the write may move a response from one session to another."""
EMPTY_TOTALS_SQL = "DELETE FROM session_totals WHERE requests IS NULL"
"""After the regroup: the rows of sessions left without a response (a copy that moved, or one that lost
to the stored copy)."""

NEW_SESSIONS_SQL = """INSERT INTO session_totals (k)
SELECT DISTINCT session_id FROM {rows}
WHERE session_id IS NOT NULL AND session_id NOT IN (SELECT k FROM session_totals)"""
"""An empty `session_totals` row for each session of `rows` it has none for, which the statements below
then fill. They update rows instead of upserting them: an upsert into the table's key took ~30 ms at
260 k sessions, an UPDATE ~8."""


def session_totals_sql(rows: str) -> str:
    """Make again the response columns of `session_totals` for the sessions in `rows` (just written).

    Each of them is grouped anew from its stored rows, read from the earliest start among them
    (or the batch's earliest time): a live session's rows are the last few row groups, so the
    scan skips the rest of the table (~8 against ~30 ms at 5 M responses, when it can: after a
    first load a session's rows are spread over the table, and the scan reads most of it)."""
    touched = f"""SELECT session_id FROM {rows} WHERE session_id IS NOT NULL
        UNION SELECT k FROM session_totals WHERE requests IS NULL"""
    since = f"""(SELECT coalesce(least(a, b), a, b) FROM (
        SELECT (SELECT min(start) FROM session_totals WHERE k IN ({touched})) AS a,
               (SELECT min(ts) FROM {rows}) AS b))"""
    where = f"AND r.session_id IN ({touched}) AND (r.ts >= {since} OR r.ts IS NULL)"
    columns = [c for c in SESSION_TOTAL_COLUMNS if c not in ("k", "first_prompt", "turns")]
    sets = ", ".join(f'"{c}" = r."{c}"' for c in columns)
    return f"""UPDATE session_totals t SET {sets} FROM ({_RESPONSE_TOTALS.format(where=where)}) r
               WHERE t.k = r.session_id"""


def appended_totals_sql(rows: str) -> str:
    """Add the responses in `rows`, just written and all of them new, to their sessions' `session_totals`.

    A live pass mostly appends new responses, and regrouping the session read its rows again
    (~60 ms at 5 M responses when they are spread over the table, as after a first load). New
    rows only add: counts and costs add up, the span widens, the project changes only to an
    earlier-named one's and the branch only to a later-named one's. A write that may replace a
    stored copy regroups instead (`session_totals_sql`)."""
    new = _RESPONSE_TOTALS.format(where=f"AND r.k IN (SELECT k FROM {rows})")
    return f"""UPDATE session_totals o SET
        agent = coalesce(o.agent, n.agent),
        project = CASE WHEN n.project_ts < o.project_ts OR (o.project_ts IS NULL AND n.project_ts IS NOT NULL)
                       THEN n.project ELSE o.project END,
        project_ts = least(o.project_ts, n.project_ts),
        branch = CASE WHEN n.branch_ts > o.branch_ts OR (o.branch_ts IS NULL AND n.branch_ts IS NOT NULL)
                      THEN n.branch ELSE o.branch END,
        branch_ts = greatest(o.branch_ts, n.branch_ts), start = least(o.start, n.start),
        "end" = greatest(o."end", n."end"), requests = coalesce(o.requests, 0) + n.requests,
        cost_usd = CASE WHEN o.cost_usd IS NULL THEN n.cost_usd WHEN n.cost_usd IS NULL THEN o.cost_usd
                        ELSE o.cost_usd + n.cost_usd END,
        unpriced_requests = coalesce(o.unpriced_requests, 0) + n.unpriced_requests,
        models = (SELECT list(DISTINCT m ORDER BY m) FROM unnest(list_concat(o.models, n.models)) AS t(m))
    FROM ({new}) n WHERE o.k = n.session_id"""


SIGNAL_TOTALS_SQL = f"""UPDATE session_totals t SET first_prompt = g.first_prompt, turns = g.turns
FROM ({_SIGNAL_TOTALS.format(where="WHERE g.k IN (SELECT unnest(?::VARCHAR[]))")}) g WHERE t.k = g.k"""
"""The signal columns of `session_totals` for the sessions a signals pass just computed."""
ALL_SIGNAL_TOTALS_SQL = f"""UPDATE session_totals t SET first_prompt = g.first_prompt, turns = g.turns
FROM ({_SIGNAL_TOTALS.format(where="")}) g WHERE t.k = g.k"""
"""The same for every session, after a signals rebuild."""


def _v11() -> list[str]:
    """The Sessions list reads a row per session kept by every write instead of grouping every response."""
    return [create_table_sql("session_totals", SESSION_TOTAL_COLUMNS), *RETOTAL_SQL]


TURN_KIND_COLUMNS: dict[str, str] = {
    "k": "VARCHAR PRIMARY KEY",  # dominant_tool, tool_calls, rung joined by \x1f (NULL as \x00)
    "dominant_tool": "VARCHAR",
    "tool_calls": "INTEGER",
    "rung": "VARCHAR",
    "n": "BIGINT",  # turns
    "struggled": "BIGINT",  # of which struggled
}
"""`turn_kinds`: the turns with a model, counted per kind of work (dominant tool), tool calls and rung, kept
by every signals write in the same transaction: the Advice pane compares rungs per kind from a few hundred
rows instead of grouping every turn (36 ms at 5 M responses)."""

_TURN_KIND_KEY = _key_sql("dominant_tool", "tool_calls", "rung")
_TURN_KINDS_OF = f"""SELECT {_TURN_KIND_KEY}, dominant_tool, tool_calls, rung, {{sign}}count(*),
           {{sign}}coalesce(sum(struggled::BIGINT), 0)
    FROM turns WHERE turn > 0 AND model IS NOT NULL {{where}} GROUP BY ALL"""


def turn_kinds_delta_sql(sign: str) -> str:
    """Add (`sign` '+') or take away ('-') the stored turns of the sessions in the list parameter."""
    rows = _TURN_KINDS_OF.format(sign=sign, where="AND session_id IN (SELECT unnest(?::VARCHAR[]))")
    return f"""INSERT INTO turn_kinds {rows}
        ON CONFLICT (k) DO UPDATE SET n = turn_kinds.n + excluded.n,
                                      struggled = turn_kinds.struggled + excluded.struggled"""


TURN_KINDS_EMPTY_SQL = "DELETE FROM turn_kinds WHERE n = 0"
RECOUNT_TURN_KINDS_SQL = [
    "DELETE FROM turn_kinds",
    f"INSERT INTO turn_kinds {_TURN_KINDS_OF.format(sign='', where='')}",
]
"""`turn_kinds` made again from the turns: by the migration, and after a signals rebuild."""


def _v12() -> list[str]:
    """The Advice pane's per-kind comparison reads counts kept by the signals writes."""
    return [create_table_sql("turn_kinds", TURN_KIND_COLUMNS), *RECOUNT_TURN_KINDS_SQL]


MIGRATIONS: dict[int, list[str]] = {
    1: _v1(), 2: _v2(), 3: _v3(), 4: _v4(), 5: _v5(), 6: _v6(), 7: _v7(), 8: _v8(), 9: _v9(), 10: _v10(), 11: _v11(),
    12: _v12(),
}  # fmt: skip
"""Schema version -> statements that bring the store from version-1 to it."""
