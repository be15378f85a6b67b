"""The source contract: what every source yields and how a source is driven.

A *source* is one agent's logs (Claude Code transcripts, Anthropic API logs,
Codex rollouts, …). It lives in one module or folder under `ingest/sources/`
and is the only code that knows its format. It hands the rest of tiermon
(store, signals, reports, panes, exports, team push) rows of the shapes below,
each stamped with `agent` and `vendor`, and nothing else:

- **responses** (RESPONSE_FIELDS): one row per model request with its usage,
  keyed by `k`; token classes follow one rule for every vendor: `input_tokens`
  excludes cache reads and writes, `output_tokens` includes reasoning, and
  `reasoning_tokens` repeats the reasoning share where the source reports it;
  `duration_ms` is how long the model took to generate, where the log says
  (Ollama's `eval_duration`; else the request's wall time), for tokens/s;
- **events** (EVENT_FIELDS, `kind` below): what the signals need besides usage —
  `prompt` (text a person typed, never text the agent injected), `interrupt`,
  `injected` (user-role text the agent wrote itself — task notifications, bash-mode
  output, reminders, caveats — with the tag in `subtype`; never a prompt),
  `text` (the tail of assistant text), `tool_use` (`name` one of the TOOL_*
  names below where the tool is one of those, else the agent's own name; `text`
  the command, path or a short summary of the input; `tool_use_id`),
  `tool_result` (`tool_use_id`, `is_error`), `command` (a slash command: `/model`
  with the new model in `text`), `command_stdout`, `system` (a compaction is
  subtype `compact_boundary` with `pre_tokens` and `trigger` auto/manual; the
  agent's own model fallback is subtype `model_fallback` with the new model in
  `model`; the context window the agent says it runs at is subtype
  `context_window` with the window in `pre_tokens`), `api_error`, and `limit`
  (a plan-limit reading: `subtype` the window — `5h`, `7d`, or `<minutes>m` —,
  `pre_tokens` the used share in basis points, `text` the reset time as ISO-8601 UTC, `trigger` where it was read);
- **agent metadata** (AGENT_META_FIELDS) for subagents;
- **quarantine**: lines that could not be used, with offset and reason;
- **entry types**: (type, version, known) counts for pipeline health.

How a source is driven: `Source.files(roots)` lists its files below its roots
(never following symlinks), each with the `Format` that reads it. A line
format's `parse` gets a buffer of complete lines starting at a byte offset and
the file's `state` (a msgspec Struct the tailer stores with the file's mark,
so a file read over several passes or processes parses as if read at once); a
whole-file format's `parse` gets the whole file each time it changes and must
key its rows so that re-reading adds nothing. `parse` never raises for bad
input: it quarantines the line and goes on.

Adding a source: one module (or folder) that defines a `Source`, one line in
`ingest/sources/__init__.py`, and its fixtures.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Protocol

import msgspec

RESPONSE_FIELDS = (
    "k", "source_kind", "session_id", "agent_id", "is_sidechain", "ts", "model", "model_base", "tier",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "web_search_requests", "speed", "inference_geo", "service_tier", "is_batch", "stop_reason", "project",
    "git_branch", "version", "request_id", "message_id", "uuid", "parent_uuid", "file_path", "line_offset",
    "agent", "vendor", "reasoning_tokens", "duration_ms",
)  # fmt: skip
"""Columns of a response row, in the order sources build them (the store adds cost_usd and priced)."""

EVENT_FIELDS = (
    "k", "session_id", "agent_id", "is_sidechain", "ts", "uuid", "parent_uuid", "kind", "subtype", "name",
    "tool_use_id", "text", "is_error", "model", "ref_agent_id", "pre_tokens", "trigger", "message_id",
    "file_path", "line_offset", "agent",
)  # fmt: skip
"""Columns of an event row, in store order."""

MAX_TOKENS = 2**53
"""Largest token count a source may report (SPEC §8): anything else is a quarantined line, so no
value or sum of a few values can overflow the store's 64-bit integers."""
Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)]
"""A token count as msgspec validates it while decoding."""

PROMPT_LIMIT = 2000
"""Characters of a human prompt kept: enough to show and classify it, never whole pastes."""
TEXT_TAIL_LIMIT = 400
"""Characters kept from the end of assistant text: question churn reads how it ends."""
SUMMARY_LIMIT = 300
"""Characters of a tool input summary, a tool error or an API error kept."""

TOOL_SHELL = "Bash"
"""A shell command (`text`: the command, whitespace collapsed): command thrash reads these."""
TOOL_READ = "Read"
"""A file read (`text`: the path): re-read drift reads these."""
TOOL_ASK = "AskUserQuestion"
"""The agent asks the user a question: question churn reads these."""
TOOL_SPAWN = frozenset({"Task", "Agent"})
"""Starts a subagent (`subtype`: its type, `tool_use_id` links the agent's rows)."""

AGENT_META_FIELDS = ("agent_id", "session_id", "agent_type", "description", "tool_use_id")
"""A subagent's type and description, where the source records them apart from its rows."""

AgentMeta = tuple[str, str | None, str | None, str | None, str | None]
Quarantined = tuple[int, int, str, str]
"""(offset, length, reason, snippet) of a line that could not be used."""


class SourceError(ValueError):
    """A source the user named that cannot be read; the message is one line."""


@dataclass
class Batch:
    """Column-oriented rows of one read, ready for Arrow, plus bookkeeping."""

    responses: dict[str, list[Any]] = field(default_factory=dict)
    events: dict[str, list[Any]] = field(default_factory=dict)
    agent_meta: list[AgentMeta] = field(default_factory=list)
    quarantine: list[Quarantined] = field(default_factory=list)
    entry_types: Counter[tuple[str, str, bool]] = field(default_factory=Counter)
    """(entry type, agent version, known to the source) -> lines."""
    lines: int = 0
    _response_index: dict[str, int] = field(default_factory=dict)

    def add_response(self, row: dict[str, Any]) -> None:
        """Keep one row per key: the better copy by `better_copy` (SPEC §3)."""
        key = row["k"]
        cols = self.responses
        at = self._response_index.get(key)
        if at is None:
            self._response_index[key] = len(cols.get("k", ()))
            for col in RESPONSE_FIELDS:
                cols.setdefault(col, []).append(row.get(col))
            return
        if better_copy(
            row["output_tokens"], row["is_sidechain"], row.get("file_path"), row.get("line_offset"),
            cols["output_tokens"][at], cols["is_sidechain"][at], cols["file_path"][at], cols["line_offset"][at],
        ):  # fmt: skip
            for col in RESPONSE_FIELDS:
                cols[col][at] = row.get(col)

    def add_response_tuples(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Append rows already in RESPONSE_FIELDS order whose keys are new to this batch (a source's
        own best copies): one transpose instead of a dict per row."""
        rows = list(rows)
        if not rows:
            return
        cols = self.responses
        start = len(cols.get("k", ()))
        for name, column in zip(RESPONSE_FIELDS, zip(*rows, strict=True), strict=True):
            cols.setdefault(name, []).extend(column)
        for i, row in enumerate(rows, start):
            self._response_index[row[0]] = i

    def add_event(self, row: dict[str, Any]) -> None:
        for col in EVENT_FIELDS:
            self.events.setdefault(col, []).append(row.get(col))

    def add_event_tuples(self, rows: list[tuple[Any, ...]]) -> None:
        """Append event rows already in EVENT_FIELDS order."""
        if rows:
            cols = self.events
            for name, column in zip(EVENT_FIELDS, zip(*rows, strict=True), strict=True):
                cols.setdefault(name, []).extend(column)

    def quarantine_line(self, offset: int, line: bytes | bytearray, reason: str) -> None:
        self.quarantine.append((offset, len(line), reason, bytes(line[:200]).decode("utf-8", "replace")))

    @property
    def response_count(self) -> int:
        return len(self.responses.get("k", ()))

    @property
    def event_count(self) -> int:
        return len(self.events.get("k", ()))


def better_copy(
    out: int, side: bool, path: Any, offset: Any, old_out: int, old_side: bool, old_path: Any, old_offset: Any
) -> bool:
    """SPEC §3: of two copies of one response, more output wins, then the main-chain copy, then the
    earliest place (path, offset) — so the kept copy does not depend on the order files are read in."""
    if out != old_out:
        return out > old_out
    if bool(side) != bool(old_side):
        return bool(old_side)
    if path is None or old_path is None or offset is None or old_offset is None:
        return False
    return bool((path, offset) < (old_path, old_offset))


class NoState(msgspec.Struct):
    """The state of a format whose lines stand alone."""


LineParser = Callable[[bytes | bytearray, int, str, Any], Batch]
"""(complete lines, their start offset in the file, the file's path, the file's state) -> rows."""


@dataclass(frozen=True)
class Format:
    """How one kind of file is read. `parse` must be a module-level function (worker processes get it
    by reference), and `state_type` a msgspec Struct: the tailer stores it with the file's mark."""

    name: str
    parse: LineParser
    state_type: type[msgspec.Struct] = NoState
    whole_file: bool = False
    """Re-read whole on every change (JSON documents, SQLite stores) instead of tailed by line."""

    def new_state(self) -> Any:
        return self.state_type()

    def load_state(self, raw: bytes | None) -> Any:
        """The state stored with a mark; a fresh one if there is none or it no longer decodes."""
        if not raw:
            return self.new_state()
        try:
            return msgspec.json.decode(raw, type=self.state_type)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self.new_state()

    @staticmethod
    def dump_state(state: Any) -> bytes:
        return msgspec.json.encode(state)


class SourceFile:
    """One file to read: its path, the source it belongs to, and the format that reads it.

    Why not a dataclass of a Path: a pass lists every file on every run, and building
    a Path for each of thousands of unchanged files cost a `report` ~15 ms. The path is
    kept as the text the store keys files by; the Path is built when a file is read.
    """

    __slots__ = ("_path", "format", "key", "kind")

    def __init__(self, path: str | os.PathLike[str], kind: str, fmt: str) -> None:
        self.key = os.fspath(path)
        """The path as text: what the files table and the rows' file_path hold."""
        self.kind = kind
        """The source's kind (`claude`, `api`, `codex`, …): `--source KIND=DIR` and files.source_kind."""
        self.format = fmt
        """A `Format.name` registered in `ingest/sources`."""
        self._path = path if isinstance(path, Path) else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(self.key)
        return self._path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceFile):
            return NotImplemented
        return (self.key, self.kind, self.format) == (other.key, other.kind, other.format)

    def __hash__(self) -> int:
        return hash((self.key, self.kind, self.format))

    def __repr__(self) -> str:
        return f"SourceFile({self.key!r}, {self.kind!r}, {self.format!r})"

    def __reduce__(self) -> tuple[type[SourceFile], tuple[str, str, str]]:
        return SourceFile, (self.key, self.kind, self.format)  # to worker processes as three strings


class Source(Protocol):
    """One agent's logs. Implementations are plain objects registered in `ingest/sources/__init__.py`."""

    kind: str
    """What `--source KIND=DIR` and `--agent KIND` call it."""
    agent: str
    """The `agent` column of its rows (`claude-code`, `codex`, `api`, …)."""
    label: str
    """What people call it (`Claude Code`, `Codex CLI`)."""
    formats: tuple[Format, ...]

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        """Where the agent keeps its logs when the user names nothing (existing folders only)."""
        ...

    def root_for(self, path: Path) -> Path:
        """The folder to scan when the user names `path` (e.g. a config dir's `projects/`)."""
        ...

    def files(self, root: Path) -> Iterator[SourceFile]:
        """Every file of this source below `root`, without following symlinks."""
        ...
