"""Typed shapes of Codex rollout lines and their token counters (formats/codex.md §2-3).

Only the fields tiermon reads are declared: msgspec skips the rest (20 KB
`base_instructions`, `encrypted_content`) without building them. Fields whose
type changed between Codex releases are `Any` and checked where they are used,
so one surprise costs a field, not the line.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

MAX_TOKENS = 2**53
"""Token counters at or above this are not believable (and lose precision as floats)."""


class LineProblem(ValueError):
    """Why a line cannot be used; the message is the quarantine reason."""


class Payload(msgspec.Struct):
    """The `payload` of any line type (and a whole legacy line, which has no envelope)."""

    type: Any = None
    id: Any = None
    timestamp: Any = None
    cwd: Any = None
    cli_version: Any = None
    git: Any = None
    source: Any = None
    forked_from_id: Any = None
    model_provider: Any = None
    model: Any = None
    model_name: Any = None
    service_tier: Any = None
    info: Any = None
    rate_limits: Any = None
    usage: Any = None
    response_id: Any = None
    message: Any = None
    role: Any = None
    content: Any = None
    name: Any = None
    namespace: Any = None
    arguments: Any = None
    input: Any = None
    call_id: Any = None
    output: Any = None
    exit_code: Any = None
    success: Any = None
    reason: Any = None
    action: Any = None
    record_type: Any = None
    instructions: Any = None
    model_context_window: Any = None


class Line(msgspec.Struct):
    """One rollout line: `{"timestamp", "type", "payload"}` since Sep 2025."""

    timestamp: Any = None
    type: Any = None
    payload: Payload | None = None


LINE_DECODER = msgspec.json.Decoder(Line)
PAYLOAD_DECODER = msgspec.json.Decoder(Payload)
ANY_DECODER = msgspec.json.Decoder()


class Usage(NamedTuple):
    """A Codex TokenUsage: `input` includes `cached` (and `write`), `output` includes `reasoning`."""

    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0
    total: int = 0
    write: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self, other, strict=True)))

    def minus(self, other: Usage) -> Usage:
        """Componentwise difference, never below 0 (a counter that went down added nothing)."""
        return Usage(*(max(a - b, 0) for a, b in zip(self, other, strict=True)))

    def below(self, other: Usage) -> bool:
        """Some counter is lower than in `other`: a stale snapshot or a reset (§4.1 rule 4)."""
        return any(a < b for a, b in zip(self, other, strict=True))

    @property
    def empty(self) -> bool:
        """Rule 6: nothing billed (a compaction marker carries only an estimated `total`)."""
        return not (self.input or self.cached or self.output or self.reasoning)

    def text(self) -> str:
        return f"{self[0]}.{self[1]}.{self[2]}.{self[3]}"


_FIELDS = (
    ("input_tokens", "input"), ("cached_input_tokens", "cached"), ("output_tokens", "output"),
    ("reasoning_output_tokens", "reasoning"), ("total_tokens", "total"), ("cache_write_input_tokens", "write"),
)  # fmt: skip


def usage_of(obj: object, where: str) -> Usage | None:
    """A usage object's counters; None when it is absent or `{}`; LineProblem when a value is not a
    non-negative integer below 2**53, or cached input exceeds input."""
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise LineProblem(f"{where} is not an object")
    get = obj.get
    i, c, o, r, t = (get("input_tokens"), get("cached_input_tokens"), get("output_tokens"),
                     get("reasoning_output_tokens"), get("total_tokens"))  # fmt: skip
    if (  # the shape of nearly every line, checked without a loop
        type(i) is int and type(c) is int and type(o) is int and type(r) is int and type(t) is int
        and 0 <= c <= i < MAX_TOKENS and 0 <= o < MAX_TOKENS and 0 <= r < MAX_TOKENS and 0 <= t < MAX_TOKENS
        and "cache_write_input_tokens" not in obj
    ):  # fmt: skip
        return Usage(i, c, o, r, t)
    values: dict[str, int] = {}
    for key, name in _FIELDS:
        value = obj.get(key)
        if value is None:
            continue
        if type(value) is not int or not 0 <= value < MAX_TOKENS:
            raise LineProblem(f"{where}.{key} is not a token count: {str(value)[:40]}")
        values[name] = value
    if not values:
        return None
    usage = Usage(**values)
    if usage.cached > usage.input and "input" in values:
        raise LineProblem(f"{where}.cached_input_tokens above input_tokens")
    return usage
