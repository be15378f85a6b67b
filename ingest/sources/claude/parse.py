"""Claude Code transcript lines -> rows of the source contract (`ingest/rows.py`).

A chunk of complete lines goes in; out come deduplicated API responses, the
events the signals need (prompts, tool calls, results, commands, system
entries), quarantined lines and entry-type counts. Nothing here touches the
database, so worker processes can run it in parallel.

The whole chunk is decoded with one `decode_lines` call and rows are gathered
as tuples, turned into columns once per chunk: per-line decoding and per-row
dicts cost more than the JSON itself on a gigabyte of transcripts. A chunk
that does not decode cleanly in one go is decoded line by line, so one bad
line costs only itself.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from tiermon.ingest.models import model_base, tier_of
from tiermon.ingest.rows import PROMPT_LIMIT, SUMMARY_LIMIT, TEXT_TAIL_LIMIT, Batch, better_copy
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.anthropic_usage import cache_writes
from tiermon.ingest.sources.claude.limit_hits import limit_hit
from tiermon.ingest.sources.claude.records import (
    ENTRY_DECODER,
    GENERIC_DECODER,
    TOOL_INPUT_DECODER,
    Block,
    CompactMetadata,
    Entry,
    Message,
    ToolUseResult,
)
from tiermon.ingest.sources.common import decode_all, line_starts

KNOWN_TYPES = frozenset(
    {
        "user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation",
        "progress", "attachment", "custom-title", "ai-title", "pr-link", "saved_hook_context",
        "agent-name", "last-prompt", "mode", "agent-setting",
    }
)  # fmt: skip
"""Entry types seen in real transcripts; anything else is counted as unknown (SPEC §4.9)."""

_COUNT_PATHS = re.compile(r"\$\.message\.usage\.|\$\.compactMetadata\.preTokens|\$\.timestamp\b")
"""Fields whose bad value quarantines the line (their path in a msgspec validation error)."""
_COMMAND_NAME = re.compile(r"<command-name>\s*(/?[^<\s]+)\s*</command-name>")
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_STDOUT = re.compile(r"<local-command-stdout>(.*?)</local-command-stdout>", re.S)
_INJECTED = re.compile(
    r"\s*(?:<(task-notification|bash-stdout|bash-stderr|bash-input|system-reminder|user-prompt-submit-hook"
    r"|local-command-[a-z-]+|command-[a-z-]+)\b|(Caveat):)"
)
"""Text Claude Code writes as a user entry that no person typed (SPEC §4): background task
notifications, bash-mode input and output, reminders, hook output, command wrappers, caveats."""
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S)


AGENT = "claude-code"
VENDOR = "anthropic"
SOURCE_KIND = "claude"


class FileState(msgspec.Struct):
    """What parsing one file needs to remember between reads; stored with the file's mark."""

    session_id: str | None = None
    sidechain_roots: dict[str, str] = {}
    """uuid -> inline sidechain id, so 1.0.x sidechain entries group per agent across reads."""


class _Rows:
    """What one chunk yields, gathered cheaply and turned into Batch columns once at the end.

    Events are kept as tuples (one append per row, transposed at the end). Of
    the lines of one streamed response only the best is remembered, and its
    row is built once: building it for every line cost more than the JSON.
    """

    __slots__ = ("best", "events")

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.best: dict[str, tuple[int, bool, int, Entry, Message, Any, _Context]] = {}

    def response(self, key: str, entry: Entry, msg: Message, usage: Any, ctx: _Context) -> None:
        """Remember this line's response if it beats the copy seen so far (same file: same path)."""
        out = usage.output_tokens or 0
        seen = self.best.get(key)
        if seen is None or better_copy(
            out, ctx.is_sidechain, ctx.path, ctx.offset, seen[0], seen[1], ctx.path, seen[2]
        ):
            self.best[key] = (out, ctx.is_sidechain, ctx.offset, entry, msg, usage, ctx)

    def finish(self, batch: Batch) -> None:
        batch.add_event_tuples(self.events)
        batch.add_response_tuples(_response_values(key, b[3], b[4], b[5], b[6]) for key, b in self.best.items())


def parse_chunk(buf: bytes | bytearray, base_offset: int, path: str, state: FileState) -> Batch:
    """Parse complete lines of `buf`, which starts at byte `base_offset` of `path`."""
    batch = Batch()
    starts = line_starts(buf)
    entries = decode_all(ENTRY_DECODER, buf, len(starts))
    if entries is None:
        _parse_line_by_line(buf, base_offset, path, state, batch)
        return batch
    batch.lines = len(starts)
    counts: dict[tuple[str, str, bool], int] = {}
    rows = _Rows()
    try:
        for entry, start in zip(entries, starts, strict=True):
            etype = entry.type or "<none>"
            key = (etype, entry.version or "", etype in KNOWN_TYPES)
            counts[key] = counts.get(key, 0) + 1
            _handle_entry(entry, rows, path, base_offset + start, state)
    except Exception:  # noqa: BLE001 - a surprise in one line must cost only that line: go line by line
        batch = Batch()
        _parse_line_by_line(buf, base_offset, path, state, batch)
        return batch
    rows.finish(batch)
    batch.entry_types.update(counts)
    return batch


def _parse_line_by_line(buf: bytes | bytearray, base_offset: int, path: str, state: FileState, batch: Batch) -> None:
    rows = _Rows()
    offset = base_offset
    for line in buf.split(b"\n"):
        line_offset = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        batch.lines += 1
        entry, problem = decode_entry(line)
        if entry is None:
            batch.quarantine_line(line_offset, line, problem)
            continue
        etype = entry.type or "<none>"
        batch.entry_types[(etype, entry.version or "", etype in KNOWN_TYPES)] += 1
        events = len(rows.events)
        try:
            _handle_entry(entry, rows, path, line_offset, state)
        except Exception as exc:  # noqa: BLE001 - no line may stop a pass (SPEC §8): it is quarantined instead
            del rows.events[events:]
            batch.quarantine_line(line_offset, line, f"entry could not be read ({type(exc).__name__})")
    rows.finish(batch)


def decode_entry(line: bytes | bytearray) -> tuple[Entry | None, str]:
    """Typed decode first; on a type surprise, a lenient field-by-field decode.

    A usage or compaction count that is not a non-negative integer up to 2^53
    makes the line unusable (SPEC §8): it is quarantined with the field named,
    never stored with a wrong number or dropped without trace.
    """
    try:
        return ENTRY_DECODER.decode(line), ""
    except msgspec.ValidationError as exc:
        if _COUNT_PATHS.search(str(exc)):
            return None, f"bad value: {exc}"
    except msgspec.DecodeError as exc:
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "JSON nested too deeply"
    try:
        obj = GENERIC_DECODER.decode(line)
    except msgspec.DecodeError as exc:
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "JSON nested too deeply"
    if not isinstance(obj, dict):
        return None, "not a JSON object"
    return lenient_entry(obj), ""


def lenient_entry(obj: dict[str, Any]) -> Entry:
    """Build an Entry keeping every field that has the expected type and dropping the rest."""
    fields: dict[str, Any] = {}
    for name in Entry.__struct_fields__:
        if name not in obj:
            continue
        try:
            fields[name] = msgspec.convert({name: obj[name]}, Entry, strict=False).__getattribute__(name)
        except msgspec.ValidationError:
            if name == "message" and isinstance(obj[name], dict):
                fields[name] = _lenient_message(obj[name])
    return Entry(**fields)


def _lenient_message(obj: dict[str, Any]) -> Message | None:
    kept = {k: v for k, v in obj.items() if k in Message.__struct_fields__}
    for drop in ("content", "stop_reason", "usage"):
        try:
            return msgspec.convert(kept, Message, strict=False)
        except msgspec.ValidationError:
            kept.pop(drop, None)
    return None


def _handle_entry(entry: Entry, batch: _Rows, path: str, offset: int, state: FileState) -> None:
    """Rows of one entry; every entry also feeds the file state (session id, inline sidechains)."""
    if entry.sessionId and state.session_id is None:
        state.session_id = entry.sessionId
    etype = entry.type
    if etype == "assistant":
        _assistant(entry, _Context(entry, path, offset, state), batch)
    elif etype == "user":
        _user(entry, _Context(entry, path, offset, state), batch)
    elif etype == "system":
        _system(entry, _Context(entry, path, offset, state), batch)
    elif entry.isSidechain and entry.agentId is None:
        _inline_sidechain_id(entry, state)


class _Context:
    """Fields shared by every row that one entry produces."""

    __slots__ = ("agent_id", "is_sidechain", "offset", "parent", "path", "session_id", "ts", "uuid")

    def __init__(self, entry: Entry, path: str, offset: int, state: FileState) -> None:
        self.session_id = entry.sessionId or state.session_id
        self.is_sidechain = bool(entry.isSidechain)
        self.agent_id = entry.agentId if self.is_sidechain else None
        if self.is_sidechain and self.agent_id is None:
            self.agent_id = _inline_sidechain_id(entry, state)
        self.ts = entry.timestamp  # aware or naive UTC: Arrow stores both as UTC, no per-line conversion
        self.uuid = entry.uuid
        self.parent = entry.parentUuid
        self.path = path
        self.offset = offset


def _event(
    batch: _Rows,
    ctx: _Context,
    index: int,
    kind: str,
    subtype: str | None = None,
    name: str | None = None,
    tool_use_id: str | None = None,
    text: str | None = None,
    is_error: bool | None = None,
    model: str | None = None,
    ref_agent_id: str | None = None,
    pre_tokens: int | None = None,
    trigger: str | None = None,
    message_id: str | None = None,
) -> None:
    """Add one event row (EVENT_FIELDS order) without building a dict."""
    key = f"{ctx.uuid}:{index}" if ctx.uuid else f"{ctx.path}:{ctx.offset}:{index}"
    batch.events.append((
        key, ctx.session_id, ctx.agent_id, ctx.is_sidechain, ctx.ts, ctx.uuid, ctx.parent, kind, subtype, name,
        tool_use_id, text, is_error, model, ref_agent_id, pre_tokens, trigger, message_id, ctx.path, ctx.offset,
        AGENT,
    ))  # fmt: skip


def _inline_sidechain_id(entry: Entry, state: FileState) -> str:
    """1.0.x sidechains have no agentId: name each by its root entry's uuid."""
    parent = entry.parentUuid
    root = state.sidechain_roots.get(parent) if parent else None
    if root is None:
        root = "side-" + (entry.uuid or "unknown")[:8]
    if entry.uuid:
        state.sidechain_roots[entry.uuid] = root
    return root


def _assistant(entry: Entry, ctx: _Context, batch: _Rows) -> None:
    msg = entry.message
    if msg is None:
        return
    if msg.model == "<synthetic>" or entry.isApiErrorMessage:
        text = _block_text(msg)
        _event(batch, ctx, 0, "api_error", text=text, message_id=msg.id)
        hit = limit_hit(text, ctx.ts) if entry.error == "rate_limit" or "limit" in (text or "") else None
        if hit is not None:
            _event(batch, ctx, 1, "limit", subtype=hit[0], pre_tokens=hit[1], text=hit[2], trigger="transcript")
        return
    _content_events(msg, ctx, batch)
    usage = msg.usage
    if usage is None or not msg.model or not msg.id:
        return
    batch.response(f"{msg.id}:{entry.requestId or ''}", entry, msg, usage, ctx)


def _response_values(key: str, entry: Entry, msg: Message, usage: Any, ctx: _Context) -> tuple[Any, ...]:
    """A response row in RESPONSE_FIELDS order."""
    w5, w1h = cache_writes(usage)
    model = msg.model or ""
    stu = usage.server_tool_use
    tier = usage.service_tier
    return (
        key, SOURCE_KIND, ctx.session_id, ctx.agent_id, ctx.is_sidechain, ctx.ts, model, model_base(model),
        tier_of(model), usage.input_tokens or 0, usage.output_tokens or 0, usage.cache_read_input_tokens or 0,
        w5, w1h, (stu.web_search_requests or 0) if stu else 0, usage.speed, usage.inference_geo, tier,
        tier == "batch", msg.stop_reason, entry.cwd, entry.gitBranch or None, entry.version, entry.requestId,
        msg.id, entry.uuid, entry.parentUuid, ctx.path, ctx.offset, AGENT, VENDOR, None, None,
    )  # fmt: skip


def _block_text(msg: Message) -> str | None:
    if isinstance(msg.content, str):
        return clean_text(msg.content)[:SUMMARY_LIMIT]
    for block in msg.content or ():
        if block.text:
            return clean_text(block.text)[:SUMMARY_LIMIT]
    return None


def _content_events(msg: Message, ctx: _Context, batch: _Rows) -> None:
    """Assistant text tails and tool calls."""
    blocks = msg.content if isinstance(msg.content, list) else []
    for i, block in enumerate(blocks):
        btype = block.type
        if btype == "text" and block.text:
            _event(batch, ctx, i, "text", text=clean_text(block.text)[-TEXT_TAIL_LIMIT:], message_id=msg.id)
        elif btype == "tool_use":
            _tool_use_event(block, i, ctx, msg.id, batch)


def _tool_use_event(block: Block, index: int, ctx: _Context, message_id: str | None, batch: _Rows) -> None:
    summary, subtype, model = None, None, None
    if block.input:
        try:
            args = TOOL_INPUT_DECODER.decode(block.input)
        except (msgspec.ValidationError, msgspec.DecodeError):
            args = None
        if args is not None:
            summary = _summarise_input(block.name or "", args, block.input)
            subtype, model = args.subagent_type, args.model
    _event(
        batch, ctx, index, "tool_use", name=block.name, tool_use_id=block.id, text=summary,
        subtype=subtype, model=model, message_id=message_id,
    )  # fmt: skip


def _summarise_input(name: str, args: Any, raw: msgspec.Raw) -> str:
    """A short, stable description of a tool call: the command, the file, the agent."""
    if args.command:
        return clean_text(" ".join(args.command.split()))[:SUMMARY_LIMIT]
    for value in (args.file_path, args.path, args.pattern, args.url, args.query, args.skill):
        if value:
            return clean_text(value)[:SUMMARY_LIMIT]
    if args.description or args.prompt:
        return clean_text(args.description or args.prompt or "")[:SUMMARY_LIMIT]
    return clean_text(bytes(memoryview(raw)[:SUMMARY_LIMIT]).decode("utf-8", "replace"))


def _user(entry: Entry, ctx: _Context, batch: _Rows) -> None:
    msg = entry.message
    content = msg.content if msg is not None else None
    if isinstance(content, str):
        _user_text(entry, content, ctx, batch)
        return
    texts: list[str] = []
    for i, block in enumerate(content or ()):
        btype = block.type
        if btype == "tool_result":
            _tool_result_event(entry, block, i, ctx, batch)
        elif btype == "text" and block.text:
            texts.append(block.text)
    if texts:
        # A reminder block beside the person's own text must not hide the prompt.
        typed = [t for t in texts if not _injected(t)]
        _user_text(entry, "\n".join(typed or texts), ctx, batch)


def _user_text(entry: Entry, text: str, ctx: _Context, batch: _Rows) -> None:
    """Classify a text user entry: a human prompt, a command, its output, or meta."""
    if entry.isCompactSummary:
        _event(batch, ctx, 0, "compact_summary", text=clean_text(text)[:SUMMARY_LIMIT])
        return
    if entry.isMeta or text.startswith("<local-command-caveat>"):
        return
    command = _COMMAND_NAME.search(text)
    if command:
        args = _COMMAND_ARGS.search(text)
        _event(
            batch, ctx, 0, "command", name=command.group(1), text=clean_text(args.group(1).strip()) if args else None
        )
        return
    stdout = _STDOUT.search(text)
    if stdout:
        _event(batch, ctx, 0, "command_stdout", text=clean_text(stdout.group(1))[:SUMMARY_LIMIT])
        return
    if text.startswith("[Request interrupted"):
        _event(batch, ctx, 0, "interrupt", text=text[:SUMMARY_LIMIT])
        return
    injected = _injected(text)
    if injected:
        _event(batch, ctx, 0, "injected", subtype=injected, text=clean_text(text)[:SUMMARY_LIMIT])
        return
    _event(batch, ctx, 0, "prompt", text=clean_text(text)[:PROMPT_LIMIT])


def _injected(text: str) -> str | None:
    """The tag of text Claude Code injected (`task-notification`, `Caveat`, …), or None for typed text.

    Reminders are cut out first: what is left, if anything, was typed.
    """
    m = _INJECTED.match(text)
    if m is not None and m.group(1) != "system-reminder":
        return m.group(1) or m.group(2)
    if "<system-reminder>" in text and not _REMINDER.sub("", text).strip():
        return "system-reminder"
    return None


def _tool_result_event(entry: Entry, block: Block, index: int, ctx: _Context, batch: _Rows) -> None:
    result = entry.toolUseResult
    structured = result if isinstance(result, ToolUseResult) else None
    text = _result_text(block, result) if block.is_error else None
    _event(
        batch, ctx, index, "tool_result", tool_use_id=block.tool_use_id, is_error=bool(block.is_error),
        model=structured.model if structured is not None else None,
        ref_agent_id=structured.agentId if structured is not None else None, text=text,
    )  # fmt: skip


def _result_text(block: Block, result: Any) -> str | None:
    """The start of an error result, for the timeline: never a whole tool output."""
    if isinstance(result, str):
        return clean_text(result[:SUMMARY_LIMIT])
    if block.content:
        raw = bytes(memoryview(block.content)[: SUMMARY_LIMIT * 4])
        return clean_text(raw.decode("utf-8", "replace"))[:SUMMARY_LIMIT]
    return None


def _system(entry: Entry, ctx: _Context, batch: _Rows) -> None:
    subtype = entry.subtype
    text = entry.content if isinstance(entry.content, str) else None
    if subtype == "local_command" and text:
        command = _COMMAND_NAME.search(text)
        if command:
            args = _COMMAND_ARGS.search(text)
            _event(
                batch, ctx, 0, "command", name=command.group(1),
                text=clean_text(args.group(1).strip()) if args else None,
            )  # fmt: skip
            return
    meta: CompactMetadata | None = entry.compactMetadata
    kind = "api_error" if subtype == "api_error" else "system"
    _event(
        batch, ctx, 0, kind, subtype=subtype, text=clean_text(text)[:SUMMARY_LIMIT] if text else None,
        pre_tokens=meta.preTokens if meta else None, trigger=meta.trigger if meta else None,
    )  # fmt: skip
