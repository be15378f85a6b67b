"""The ingest side of the status line: import its limit readings, and keep status.json current.

Called by the runner at the end of each pass, inside its last hold of the
store (see ingest/statusfiles.py for the files and why they exist).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tiermon.ingest import statusfiles
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.signals.costs import DEFAULT_WINDOW
from tiermon.ingest.signals.limits import CLAUDE_AGENTS, COMPACT_BUFFER, learned_limits
from tiermon.ingest.store import Store
from tiermon.ingest.times import naive_utc

OFFSET_KEY = "limit_readings_offset"
"""Store meta: how far into the readings file the store has read."""
STATE_SESSIONS_SINCE = timedelta(days=2)
"""Sessions that ended longer ago than this are left out of status.json: a status line is for a live one."""
STATE_SESSION_LIMIT = 200
WINDOWS = frozenset({"5h", "7d"})


def import_readings(store: Store, folder: Path) -> int:
    """New lines of the readings file as `limit` events; keys make a re-read add nothing."""
    offset = int(store.meta(OFFSET_KEY) or 0)
    rows, end = statusfiles.read_readings(folder, offset)
    events = [event for event in map(reading_event, rows) if event is not None]
    if events:
        store.execute_many(
            """INSERT OR IGNORE INTO events (k, session_id, ts, kind, subtype, name, pre_tokens, text, trigger, agent)
               VALUES (?, NULL, ?, 'limit', ?, ?, ?, ?, ?, ?)""",
            events,
        )
    if end != offset:
        store.set_meta(OFFSET_KEY, str(end))
    return len(events)


def reading_event(row: dict[str, Any]) -> tuple[Any, ...] | None:
    """One reading as event values, or None when it is not one. The session goes in `name`, not
    `session_id`: a plan reading describes the account, and must not make a session look active."""
    observed = naive_utc(_zulu(row.get("observed_at")))
    resets = naive_utc(_zulu(row.get("resets_at")))
    window, used = row.get("window"), row.get("used_bp")
    if observed is None or resets is None or window not in WINDOWS:
        return None
    if isinstance(used, bool) or not isinstance(used, int) or not 0 <= used <= 1_000_000:
        return None
    agent = clean_text(str(row.get("agent") or "claude-code"))[:40]
    source = clean_text(str(row.get("source") or "statusline"))[:40]
    session = clean_text(str(row.get("session_id") or ""))[:120] or None
    key = f"limit:{agent}:{source}:{window}:{observed.isoformat()}"
    return (key, observed, window, session, used, resets.isoformat() + "Z", source, agent)


def _zulu(value: Any) -> Any:
    return value.replace("Z", "+00:00") if isinstance(value, str) else value


def write_state(store: Store, folder: Path, now: datetime) -> None:
    """status.json: the recent sessions' model, rung, cost, context and limit, and alert badges.

    The limit is the signals' own (session_signals.context_limit, SPEC §4.5); the learned
    points travel too, for a session the store has not seen yet.
    """
    rows = store.query_dicts(
        """SELECT session_id, current_model, current_tier, cost_usd, context_tokens, context_limit,
                  coalesce(alerts_warn, 0) AS warn, coalesce(alerts_info, 0) AS info
           FROM session_signals WHERE end_ts >= ? ORDER BY end_ts DESC LIMIT ?""",
        [now - STATE_SESSIONS_SINCE, STATE_SESSION_LIMIT],
    )
    sessions = {
        row["session_id"]: {
            "model": row["current_model"] or "", "tier": row["current_tier"], "cost_usd": row["cost_usd"],
            "context_tokens": row["context_tokens"], "context_limit": row["context_limit"],
            "alerts": row["warn"] + row["info"], "warnings": row["warn"],
        }
        for row in rows
    }  # fmt: skip
    learned = {
        model: point for (model, agent, window), point in learned_limits(store).learned.items()
        if window == DEFAULT_WINDOW and agent in CLAUDE_AGENTS
    }  # fmt: skip
    statusfiles.write_state(folder, {
        "written_at": now.isoformat() + "Z", "sessions": sessions, "compaction": learned,
        "compact_buffer": COMPACT_BUFFER,
    })  # fmt: skip
