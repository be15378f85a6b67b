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

from tiermon.ingest.rows import TOOL_ASK
from tiermon.ingest.signals.base import Response, SessionRows, turn_at

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

    @property
    def main_cost(self) -> float:
        return sum(r.cost or 0.0 for r in self.responses)

    @property
    def cost(self) -> float:
        return self.main_cost + sum(r.cost or 0.0 for r in self.subagent_responses)

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
    for e in rows.events:
        t = turn(e.ts)
        if e.sidechain:
            continue
        if e.kind == "tool_use":
            t.tool_calls += 1
            if e.name == ASK_TOOL:
                t.asked_tool = True
        elif e.kind == "tool_result" and e.is_error:
            t.tool_errors += 1
        elif e.kind == "text" and e.text:
            t.last_text = e.text
    return [turns[n] for n in sorted(turns)], times
