"""The ingest side of the status line: import its limit readings, and keep status.json current.

Called by the runner at the end of each pass, inside its last hold of the
store (see ingest/statusfiles.py for the files and why they exist).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from tiermon.ingest import statusfiles
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.store import Store
from tiermon.ingest.times import naive_utc

OFFSET_KEY = "limit_readings_offset"
"""Store meta: how far into the readings file the store has read."""
STATE_SESSIONS_SINCE = timedelta(days=2)
"""Sessions that ended longer ago than this are left out of status.json: a status line is for a live one."""
STATE_SESSION_LIMIT = 200
LEARNED_COMPACTIONS = 5
"""SPEC §4.5: the compaction point is the median preTokens of this many latest auto-compactions."""
COMPACT_RESERVE = 33_000
WINDOWS = frozenset({"5h", "7d"})


def import_readings(store: Store, folder: Path) -> int:
    """New lines of the readings file as `limit` events; keys make a re-read add nothing."""
    offset = int(store.meta(OFFSET_KEY) or 0)
    rows, end = statusfiles.read_readings(folder, offset)
    events = [event for event in map(reading_event, rows) if event is not None]
    if events:
        store.con.executemany(
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
    """status.json: the recent sessions' model, rung, cost, context and limit, and alert badges."""
    learned = learned_compaction(store)
    rows = store.query_dicts(
        """SELECT session_id, current_model, current_tier, cost_usd, context_tokens, context_window,
                  coalesce(alerts_warn, 0) AS warn, coalesce(alerts_info, 0) AS info
           FROM session_signals WHERE end_ts >= ? ORDER BY end_ts DESC LIMIT ?""",
        [now - STATE_SESSIONS_SINCE, STATE_SESSION_LIMIT],
    )
    sessions = {}
    for row in rows:
        model = row["current_model"] or ""
        base = model.split("[", 1)[0]
        window = row["context_window"]
        limit = learned.get(base) or (window - COMPACT_RESERVE if window else None)
        sessions[row["session_id"]] = {
            "model": model, "tier": row["current_tier"], "cost_usd": row["cost_usd"],
            "context_tokens": row["context_tokens"], "context_limit": limit,
            "alerts": row["warn"] + row["info"], "warnings": row["warn"],
        }  # fmt: skip
    statusfiles.write_state(
        folder, {"written_at": now.isoformat() + "Z", "sessions": sessions, "compaction": learned}
    )


def learned_compaction(store: Store) -> dict[str, int]:
    """Per model: the median preTokens of its latest auto-compactions (the model of the response before)."""
    rows = store.query(
        """WITH c AS (
               SELECT e.session_id, e.ts, e.pre_tokens FROM events e
               WHERE e.kind = 'system' AND e.subtype = 'compact_boundary' AND e.trigger = 'auto'
                 AND e.pre_tokens > 0 AND e.agent_id IS NULL
               ORDER BY e.ts DESC LIMIT 200)
           SELECT (SELECT arg_max(r.model_base, r.ts) FROM responses r
                   WHERE r.session_id = c.session_id AND r.ts <= c.ts AND r.ts >= c.ts - INTERVAL 1 DAY
                     AND NOT r.is_sidechain) AS model, c.pre_tokens
           FROM c ORDER BY c.ts DESC"""
    )
    points: dict[str, list[int]] = {}
    for model, pre in rows:
        if model and len(points.setdefault(model, [])) < LEARNED_COMPACTIONS:
            points[model].append(int(pre))
    return {model: int(median(values)) for model, values in points.items()}
