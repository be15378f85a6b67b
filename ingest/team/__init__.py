"""Provides the team sink: redacted rows pushed to PostgreSQL and the team's reports read back.

A team shares spend through a PostgreSQL server it already runs (SPEC §9).
Each tiermon pushes, under its configured user and machine, one row per API
response holding figures only (tokens, cost, model, tier, time, ids, the
project's folder name, the git branch) and the figures of its signals. No
prompt, response, tool or message text ever leaves the machine: rows are
built from an allow-list of columns, never from the events table.

The server keeps one row per response key with the local store's rule (the
copy with the most output tokens, then the main-chain copy), so pushes may
repeat, overlap and run from many machines at once. What was sent is
remembered locally in `team_pushed` (key -> digest of the row as sent),
scoped to the server's sink id, the user and the machine, so a push sends
only rows that are new or changed since — including a response the local
store later replaced with a larger copy.

Modules: `connection` (URL, driver errors), `schema` (server tables and
migrations), `sink` (TeamSink: migrate, upsert, read), `push` (the local
side: what changed, what was sent), `redaction` (signals to figures),
`reports` (team reports), `overview` (the Team screen's data).
"""

from __future__ import annotations

from tiermon.ingest.team.connection import CONNECT_TIMEOUT, NO_URL, TeamError, mask_url
from tiermon.ingest.team.overview import TIERS, TeamOverview, fetch_overview, team_overview
from tiermon.ingest.team.push import LOCAL_TABLE
from tiermon.ingest.team.redaction import SignalRow, redact_signal
from tiermon.ingest.team.reports import (
    GROUPS,
    TEAM_KINDS,
    blocks,
    build_report,
    model_rows,
    period_rows,
    session_rows,
    team_where,
    totals,
)
from tiermon.ingest.team.schema import (
    MIGRATIONS,
    PUSH_FORMAT,
    RESPONSE_COLUMNS,
    SCHEMA,
    SIGNAL_COLUMNS,
    TEAM_SCHEMA_VERSION,
)
from tiermon.ingest.team.sink import BATCH_ROWS, RETRIES, PushResult, TeamSink, push_settings

__all__ = [
    "BATCH_ROWS",
    "CONNECT_TIMEOUT",
    "GROUPS",
    "LOCAL_TABLE",
    "MIGRATIONS",
    "NO_URL",
    "PUSH_FORMAT",
    "RESPONSE_COLUMNS",
    "RETRIES",
    "SCHEMA",
    "SIGNAL_COLUMNS",
    "TEAM_KINDS",
    "TEAM_SCHEMA_VERSION",
    "TIERS",
    "PushResult",
    "SignalRow",
    "TeamError",
    "TeamOverview",
    "TeamSink",
    "blocks",
    "build_report",
    "fetch_overview",
    "mask_url",
    "model_rows",
    "period_rows",
    "push_settings",
    "redact_signal",
    "session_rows",
    "team_overview",
    "team_where",
    "totals",
]
