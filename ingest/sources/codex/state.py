"""What parsing one rollout needs to remember between reads; the tailer stores it with the file's mark."""

from __future__ import annotations

import re

import msgspec

REPLAY_NONE = 0
"""Not a fork or subagent file: nothing is replayed."""
REPLAY_OPEN = 1
"""A lineage file whose replayed parent history has not ended yet."""
REPLAY_ENDED = 2
OPEN_CALLS_LIMIT = 2000
"""Calls waiting for a result that are remembered; older ones (never answered) are forgotten."""
_THREAD_IN_NAME = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$", re.I)


class FileState(msgspec.Struct):
    """Per rollout file: thread identity, the running token total (§4.1), the replay prefix (§4.4),
    the current model, and tool calls whose result has not been seen."""

    thread_id: str | None = None
    parent_id: str | None = None
    """The parent thread of a spawned subagent: its rows go to the parent's session."""
    agent_type: str | None = None
    agent_meta_sent: bool = False
    meta_seen: bool = False
    created: str | None = None
    """The thread's creation time (`session_meta.payload.timestamp`), ISO-8601 naive UTC."""
    replay: int = REPLAY_NONE
    copied_meta: bool = False
    replay_anchor: str | None = None
    legacy: bool = False
    project: str | None = None
    branch: str | None = None
    version: str | None = None
    provider: str | None = None
    meta_model: str | None = None
    model: str | None = None
    service_tier: str | None = None
    turn_open: bool = True
    """A prompt or task started since the last request: a model change now is the user's."""
    compact_open: bool = False
    prev_total: list[int] | None = None
    """The file's high-water `total_token_usage` (Usage fields)."""
    prev_pair: int | None = None
    pairs: set[int] = set()
    """Fingerprints of the (total, last) pairs already counted in this file."""
    requests: int = 0
    last_prompt: int | None = None
    records_mode: bool = False
    open_calls: dict[str, str] = {}
    """call id -> tool name, until its result is seen."""
    exec_session: dict[str, str] = {}
    """unified-exec session id -> the exec_command call still running in it."""
    stdin_session: dict[str, str] = {}
    """write_stdin call id -> the exec session it writes to."""
    limits: dict[str, str] = {}
    window: int | None = None
    """The last `model_context_window` the file recorded (sent as a `context_window` event)."""
    """limit id and window -> the last reading emitted, so unchanged readings are not repeated."""

    def open_call(self, call_id: str, name: str) -> None:
        self.open_calls[call_id] = name
        if len(self.open_calls) > OPEN_CALLS_LIMIT:
            del self.open_calls[next(iter(self.open_calls))]


def thread_id_from_name(name: str) -> str | None:
    """The thread id in `rollout-<local time>-<uuid>.jsonl`: the session id before `session_meta` says."""
    found = _THREAD_IN_NAME.search(name)
    return found.group(1).lower() if found else None
