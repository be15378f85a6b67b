"""Provides what every signal reads (one session's responses and events in time order) and writes.

The engine loads a batch of sessions with one query per table, hands each
signal a `SessionRows`, and collects `Alert`s. Nothing here touches the
database, so each signal is a plain function that tests can call directly.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LONG_REQUEST = 200_000
"""A request above this many prompt tokens only fits a 1M window."""

RECORDED_WINDOW = "context_window"
"""Subtype of the `system` event in which an agent records the context window it runs at."""

MAIN = None
"""The chain key of the main conversation (events and responses without an agent id)."""


@dataclass(slots=True)
class Response:
    """One deduplicated API response (a row of `responses`)."""

    ts: datetime
    agent_id: str | None
    sidechain: bool
    model: str
    base: str
    tier: str
    input: int
    output: int
    read: int
    w5: int
    w1h: int
    cost: float | None
    speed: str | None
    geo: str | None
    batch: bool
    message_id: str | None = None
    """Groups the tool calls of one response: a parallel batch (SPEC §4.4)."""
    agent: str = ""
    """The coding agent that made the request (claude-code, codex, ...), for the scorecard."""
    vendor: str = ""

    @property
    def context(self) -> int:
        """Prompt size: input + cache read + cache writes (SPEC §4.5)."""
        return self.input + self.read + self.w5 + self.w1h

    @property
    def writes(self) -> int:
        return self.w5 + self.w1h

    @property
    def tokens(self) -> int:
        return self.input + self.output + self.read + self.w5 + self.w1h


@dataclass(slots=True)
class Event:
    """One row of `events`: a prompt, a tool call or result, a command, a system entry."""

    ts: datetime
    agent_id: str | None
    sidechain: bool
    kind: str
    subtype: str | None
    name: str | None
    tool_use_id: str | None
    text: str | None
    is_error: bool | None
    model: str | None
    ref_agent_id: str | None
    pre_tokens: int | None
    trigger: str | None
    message_id: str | None = None
    """The response a tool call belongs to: its calls run as one parallel batch."""


@dataclass(frozen=True, slots=True)
class AgentMeta:
    """An `agent-<id>.meta.json` sidecar."""

    agent_type: str | None
    description: str | None
    tool_use_id: str | None


@dataclass
class SessionRows:
    """Everything the signals need about one session, each list in time order."""

    session_id: str
    project: str | None
    git_branch: str | None
    responses: list[Response]
    events: list[Event]
    meta: dict[str, AgentMeta] = field(default_factory=dict)
    main: list[Response] = field(init=False)
    """Main-chain responses: the conversation the user sees."""
    main_events: list[Event] = field(init=False)
    long_context: bool = field(init=False)
    """A main-chain request exceeded 200k: the agent ran the session at a 1M window (SPEC §4.5)."""
    windows: list[tuple[datetime, int]] = field(init=False)
    """Context windows the agent itself recorded for the main chain (Codex's `model_context_window`), in time order."""

    def __post_init__(self) -> None:
        self.main = [r for r in self.responses if not r.sidechain]
        self.main_events = [e for e in self.events if not e.sidechain]
        self.long_context = any(r.context > LONG_REQUEST for r in self.main)
        self.windows = [
            (e.ts, e.pre_tokens) for e in self.main_events
            if e.kind == "system" and e.subtype == RECORDED_WINDOW and e.pre_tokens
        ]  # fmt: skip

    def recorded_window(self, ts: datetime) -> int | None:
        """The window the agent recorded last at or before `ts` (else its first one), or None."""
        if not self.windows:
            return None
        at = bisect_right(self.windows, ts, key=lambda w: w[0])
        return self.windows[max(at - 1, 0)][1]

    def chains(self) -> dict[str | None, list[Event]]:
        """Events per chain: None for the main chain, else the agent id."""
        out: dict[str | None, list[Event]] = {}
        for e in self.events:
            out.setdefault(e.agent_id if e.sidechain else MAIN, []).append(e)
        return out

    def chain_responses(self) -> dict[str | None, list[Response]]:
        out: dict[str | None, list[Response]] = {}
        for r in self.responses:
            out.setdefault(r.agent_id if r.sidechain else MAIN, []).append(r)
        return out

    def compaction_times(self) -> list[datetime]:
        """When the main chain was compacted (`compact_boundary`)."""
        return [
            e.ts for e in self.main_events if e.kind == "system" and e.subtype == "compact_boundary"
        ]


@dataclass(slots=True)
class Alert:
    """One signal firing: what, where, and the numbers it rests on."""

    kind: str
    severity: str
    start: datetime
    end: datetime
    message: str
    figures: dict[str, Any]
    agent_id: str | None = None
    turn: int | None = None
    discriminator: str = ""
    """Keeps keys apart when one kind fires twice at the same moment (two files re-read)."""

    def key(self, session_id: str) -> str:
        return f"{session_id}:{self.kind}:{self.agent_id or 'main'}:{self.start.isoformat()}:{self.discriminator}"


def priced_sum(responses: list[Response]) -> tuple[float | None, int]:
    """(USD of the priced responses, or None when none is priced; tokens of the unpriced ones).

    Why: an unpriced response is not free; callers show its tokens beside the sum (SPEC §3).
    """
    priced = [r.cost for r in responses if r.cost is not None]
    unpriced = sum(r.tokens for r in responses if r.cost is None)
    return (sum(priced) if priced or not responses else None), unpriced


def cost_between(responses: list[Response], start: datetime, end: datetime) -> float:
    """USD of the responses timed within [start, end]; unpriced ones count as 0 (flagged elsewhere)."""
    return sum(r.cost or 0.0 for r in responses if start <= r.ts <= end)


def responses_inside(
    responses: list[Response], spans: list[tuple[datetime, datetime]]
) -> list[Response]:
    """Responses timed inside any of the spans, each once."""
    return [r for r in responses if any(a <= r.ts <= b for a, b in spans)]


def turn_at(prompt_times: list[datetime], ts: datetime) -> int:
    """The turn a moment belongs to: 0 before the first human prompt, n from the n-th prompt on."""
    return bisect_right(prompt_times, ts)


def short(text: str | None, limit: int = 60) -> str:
    """One line of at most `limit` characters, for messages."""
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def short_path(path: str | None, limit: int = 60) -> str:
    """A path cut from the left, so the file name survives: `…/controllers/hooks_controller.ex`."""
    if not path:
        return ""
    line = " ".join(path.split())
    return line if len(line) <= limit else "…" + line[-(limit - 1) :]


def rounded(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)
