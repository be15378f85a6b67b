"""Provides turns: a session cut at its human prompts (SPEC §4).

A human prompt is an event of kind `prompt` on the main chain (the parser
already drops tool results, meta, compact summaries and command wrappers).
Turn n runs from the n-th prompt to the next; turn 0 holds whatever came
before the first prompt (a resumed session, a slash command, warmups).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from tiermon.ingest.models import RUNG_OF, TIER_ORDER
from tiermon.ingest.rows import TOOL_ASK
from tiermon.ingest.signals.base import Response, SessionRows, priced_sum, turn_at

ASK_TOOL = TOOL_ASK


@dataclass
class Turn:
    n: int
    start: datetime
    end: datetime
    prompt: str | None
    responses: list[Response] = field(default_factory=list)
    """Main-chain responses."""
    subagent_responses: list[Response] = field(default_factory=list)
    tool_calls: int = 0
    tool_errors: int = 0
    last_text: str | None = None
    asked_tool: bool = False
    """The turn called AskUserQuestion."""
    asks: bool = False
    needless_ask: bool = False
    interrupts: int = 0
    """`[Request interrupted by user…]` entries in the turn (SPEC §4.10)."""
    failed_attempts: int = 0
    """Main-chain responses with at least one failing tool call: a parallel batch fails once."""
    compactions: int = 0
    tools: Counter[str] = field(default_factory=Counter)
    thrash: bool = False
    """A main-chain thrash lies in the turn (set by the engine)."""
    rereads: int = 0
    """Files re-read past the drift threshold in the turn (set by the engine)."""
    escalated: bool = False
    """The turn struggled and a later turn of the session ran a rung higher (set by `mark_escalations`)."""
    recovered: bool = False
    """... and that first higher-rung turn did not struggle."""

    @property
    def main_cost(self) -> float:
        """USD of the priced main-chain responses (the unpriced ones are in `unpriced_tokens`)."""
        return sum(r.cost or 0.0 for r in self.responses)

    @property
    def cost(self) -> float:
        return self.main_cost + sum(r.cost or 0.0 for r in self.subagent_responses)

    @property
    def cost_or_none(self) -> float | None:
        """The turn's cost, or None when none of its responses is priced."""
        return priced_sum(self.responses + self.subagent_responses)[0]

    @property
    def unpriced_tokens(self) -> int:
        return priced_sum(self.responses + self.subagent_responses)[1]

    @property
    def model(self) -> str | None:
        """The model most main-chain responses ran on."""
        return Counter(r.model for r in self.responses).most_common(1)[0][0] if self.responses else None

    @property
    def rung(self) -> str | None:
        return RUNG_OF.get(self.tier or "")

    @property
    def dominant_tool(self) -> str | None:
        """The tool called most in the turn: the *kind* of work it was, for de-escalation by kind."""
        return self.tools.most_common(1)[0][0] if self.tools else None

    @property
    def min_context(self) -> int:
        return min((r.context for r in self.responses), default=0)

    @property
    def struggled(self) -> bool:
        """A thrash, a needless ask, re-read drift, an interrupt or ≥ 3 failed attempts (SPEC §4.7)."""
        return self.thrash or self.needless_ask or self.rereads > 0 or self.interrupts > 0 or self.failed_attempts >= 3

    @property
    def priced(self) -> bool:
        return all(r.cost is not None for r in self.responses)

    @property
    def output_tokens(self) -> int:
        return sum(r.output for r in self.responses)

    @property
    def max_context(self) -> int:
        return max((r.context for r in self.responses), default=0)

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r.model for r in self.responses))

    @property
    def tier(self) -> str | None:
        """The tier most main-chain responses ran on (ties go to the costlier one)."""
        if not self.responses:
            return None
        counts = Counter(r.tier for r in self.responses)
        spend: dict[str, float] = defaultdict(float)
        for r in self.responses:
            spend[r.tier] += r.cost or 0.0
        return max(counts, key=lambda t: (counts[t], spend[t]))


def build_turns(rows: SessionRows) -> tuple[list[Turn], list[datetime]]:
    """The session's turns in order, and the prompt times that cut them."""
    prompts = [e for e in rows.main_events if e.kind == "prompt"]
    times = [e.ts for e in prompts]
    turns: dict[int, Turn] = {
        i + 1: Turn(n=i + 1, start=e.ts, end=e.ts, prompt=e.text) for i, e in enumerate(prompts)
    }

    def turn(ts: datetime) -> Turn:
        n = turn_at(times, ts)
        if n not in turns:
            turns[n] = Turn(n=0, start=ts, end=ts, prompt=None)
        t = turns[n]
        t.start = min(t.start, ts)
        t.end = max(t.end, ts)
        return t

    for r in rows.responses:
        t = turn(r.ts)
        (t.subagent_responses if r.sidechain else t.responses).append(r)
    batch_of: dict[str, str] = {}
    failed: dict[int, set[str]] = defaultdict(set)
    for e in rows.events:
        t = turn(e.ts)
        if e.sidechain:
            continue
        if e.kind == "tool_use":
            t.tool_calls += 1
            t.tools[e.name or "?"] += 1
            if e.tool_use_id:
                batch_of[e.tool_use_id] = e.message_id or e.tool_use_id
            if e.name == ASK_TOOL:
                t.asked_tool = True
        elif e.kind == "tool_result" and e.is_error:
            t.tool_errors += 1
            failed[t.n].add(batch_of.get(e.tool_use_id or "", e.tool_use_id or str(e.ts)))
        elif e.kind == "text" and e.text:
            t.last_text = e.text
        elif e.kind == "interrupt":
            t.interrupts += 1
        elif e.kind == "system" and e.subtype == "compact_boundary":
            t.compactions += 1
    for n, batches in failed.items():
        turns[n].failed_attempts = len(batches)
    return [turns[n] for n in sorted(turns)], times


def mark_escalations(turns: list[Turn]) -> None:
    """Mark struggling turns the session later moved a rung up from, and whether that ended the struggle."""
    for i, t in enumerate(turns):
        if t.n == 0 or not t.struggled or t.tier not in TIER_ORDER:
            continue
        later = next((u for u in turns[i + 1 :] if TIER_ORDER.get(u.tier or "", -1) > TIER_ORDER[t.tier or ""]), None)
        if later is not None:
            t.escalated, t.recovered = True, not later.struggled
