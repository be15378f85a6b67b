"""Provides the redaction of signals to their kind and figures: what a signal may carry to the server.

Every value kept is a number, a time, an id or a short label; messages,
reasons, details, projects and paths are dropped (SPEC §9).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiermon.ingest.team.schema import PUSH_FORMAT, SIGNAL_COLUMNS
from tiermon.ingest.times import naive_utc

_LABEL_KEYS = frozenset(
    {"model", "tier", "from_model", "to_model", "from_tier", "to_tier", "direction", "cause", "trigger",
     "agent_type", "severity", "chain"}
)  # fmt: skip
"""Short labels a signal may carry besides numbers; any other text is dropped."""
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\[\]-]{0,63}")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}")
_FIGURE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_NOT_FIGURES = frozenset({"k", "start", "end", "at", "turn", *SIGNAL_COLUMNS})
"""Keys that become columns (or identity) rather than figures."""


@dataclass(frozen=True)
class SignalRow:
    """One redacted signal as sent: every value a number, a time, an id or a short label."""

    k: str
    digest: str
    row: dict[str, Any]

    def values(self) -> tuple[Any, ...]:
        return tuple(self.row[c] for c in SIGNAL_COLUMNS)


def redact_signal(signal: str, raw: dict[str, Any], user: str, machine: str) -> SignalRow | None:
    """Keep a signal's kind, place and figures; drop every text (message, reason, detail, project, paths)."""
    session = _id(raw.get("session_id"))
    kind = _label(raw.get("kind"))
    if session is None or kind is None:
        return None
    start = naive_utc(raw.get("start", raw.get("at")))
    figures: dict[str, Any] = {}
    nested = raw.get("figures")
    nested = nested if isinstance(nested, dict) else {}
    for source, skip in ((nested, frozenset()), (raw, _NOT_FIGURES)):
        for key, value in source.items():
            if isinstance(key, str) and _FIGURE_NAME.fullmatch(key) and key not in skip:
                kept = _figure(key, value)
                if kept is not None:
                    figures.setdefault(key, kept)
    row: dict[str, Any] = {
        "user_name": user,
        "machine": machine,
        "signal": signal,
        "session_id": session,
        "kind": kind,
        "severity": _label(raw.get("severity")),
        "start_ts": start,
        "end_ts": naive_utc(raw.get("end")),
        "turn": raw.get("turn") if isinstance(raw.get("turn"), int) and not isinstance(raw.get("turn"), bool) else None,
        "agent_id": _id(raw.get("agent_id")),
        "from_tier": _label(raw.get("from_tier")),
        "to_tier": _label(raw.get("to_tier")),
        "cost_usd": _number(raw.get("cost_usd", nested.get("cost_usd"))),
        "counterfactual_cost_usd": _number(raw.get("counterfactual_cost_usd")),
    }
    identity = [signal, session, kind, row["agent_id"], start.isoformat() if start else None, row["turn"],
                hashlib.sha256(str(raw.get("k", "")).encode()).hexdigest()]  # fmt: skip
    k = hashlib.md5(json.dumps(identity).encode()).hexdigest()
    row = {"k": k, **row, "figures": json.dumps(figures, sort_keys=True)}
    digest = hashlib.md5(json.dumps([PUSH_FORMAT, row], sort_keys=True, default=str).encode()).hexdigest()
    return SignalRow(k, digest, row)


def _figure(key: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, datetime):
        return naive_utc(value).isoformat()  # type: ignore[union-attr]
    if key in _LABEL_KEYS:
        return _label(value)
    return None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def _label(value: Any) -> str | None:
    return value if isinstance(value, str) and _LABEL.fullmatch(value) else None


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None
