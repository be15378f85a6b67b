"""Provides model switches on the main chain and their causes (SPEC §4.1).

A switch is two consecutive main-chain responses whose model (without date
or context suffix) differs. What lies between them names the cause:
`command` (a /model command or its "Set model to" output), `skill` (a tool
result whose `model` is set: a skill ran on another model), `fallback` (the
agent itself fell back to another model, e.g. Gemini CLI on a quota error),
else `automatic`. An automatic or fallback downgrade is a drift alert.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from tiermon.ingest.models import direction
from tiermon.ingest.signals.base import Alert, Event, SessionRows, short

MODEL_COMMANDS = frozenset({"/model", "model"})
SET_MODEL = "Set model to"
FALLBACK = "model_fallback"
"""The system event a source writes when the agent switched model on its own (rows.py)."""


@dataclass(frozen=True, slots=True)
class Switch:
    at: datetime
    previous_at: datetime
    from_model: str
    to_model: str
    from_tier: str
    to_tier: str
    direction: str
    cause: str
    detail: str

    @property
    def drift(self) -> bool:
        """An automatic downgrade: the user did not ask for a weaker model."""
        return self.cause in ("automatic", "fallback") and self.direction == "down"


def find_switches(rows: SessionRows) -> list[Switch]:
    events = rows.main_events
    times = [e.ts for e in events]
    tool_names = {e.tool_use_id: e.text for e in events if e.kind == "tool_use" and e.tool_use_id}
    out: list[Switch] = []
    for prev, cur in pairwise(rows.main):
        if prev.base == cur.base:
            continue
        between = events[bisect_right(times, prev.ts) : bisect_right(times, cur.ts)]
        cause, detail = classify(between, tool_names)
        out.append(
            Switch(
                at=cur.ts, previous_at=prev.ts, from_model=prev.model, to_model=cur.model,
                from_tier=prev.tier, to_tier=cur.tier, direction=direction(prev.tier, cur.tier),
                cause=cause, detail=detail,
            )
        )  # fmt: skip
    return out


def classify(between: list[Event], tool_names: dict[str, str | None]) -> tuple[str, str]:
    """(cause, detail) from the main-chain events between two responses; a command wins over a skill."""
    skill: str | None = None
    fallback: str | None = None
    for e in between:
        if e.kind == "command" and (e.name or "").lower() in MODEL_COMMANDS:
            return "command", f"/model {e.text or ''}".strip()
        if e.kind == "command_stdout" and (e.text or "").startswith(SET_MODEL):
            return "command", short(e.text, 80)
        if e.kind == "system" and e.subtype == FALLBACK and fallback is None:
            fallback = f"the agent fell back to {e.model or 'another model'}"
        if e.kind == "tool_result" and e.model and skill is None:
            name = tool_names.get(e.tool_use_id or "")
            skill = f"{name} ({e.model})" if name else e.model
    if skill is not None:
        return "skill", skill
    if fallback is not None:
        return "fallback", fallback
    return "automatic", _context(between)


def _context(between: list[Event]) -> str:
    """What else lay between, so an automatic switch can be read: a compaction, a new prompt."""
    notes = []
    if any(e.kind == "system" and e.subtype == "compact_boundary" for e in between):
        notes.append("after compaction")
    elif any(
        e.kind == "command" and (e.name or "").lower() in ("/compact", "compact") for e in between
    ):
        notes.append("after /compact")
    if any(e.kind == "prompt" for e in between):
        notes.append("at a new prompt")
    return ", ".join(notes)


def switch_alerts(switches: list[Switch]) -> list[Alert]:
    alerts = []
    for s in switches:
        text = (
            f"Model switched {s.from_tier} → {s.to_tier} ({s.from_model} → {s.to_model}), {s.cause}"
        )
        if s.detail:
            text += f": {s.detail}"
        if s.drift:
            text += " — the model was downgraded without a /model command or skill"
        alerts.append(
            Alert(
                kind="model_switch", severity="warn" if s.drift else "info", start=s.at, end=s.at,
                message=text,
                figures={
                    "from_model": s.from_model, "to_model": s.to_model, "from_tier": s.from_tier,
                    "to_tier": s.to_tier, "direction": s.direction, "cause": s.cause, "detail": s.detail,
                    "previous_response_at": s.previous_at.isoformat(),
                },
            )
        )  # fmt: skip
    return alerts
