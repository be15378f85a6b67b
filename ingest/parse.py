"""Transcript bytes -> column batches for the store.

A chunk of complete lines goes in; out come deduplicated API responses, the
events the signals need (prompts, tool calls, results, commands, system
entries), quarantined lines and entry-type counts. Nothing here touches the
database, so worker processes can run it in parallel.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import msgspec

from tiermon.ingest.models import model_base, tier_of
from tiermon.ingest.records import (
    ENTRY_DECODER,
    GENERIC_DECODER,
    TOOL_INPUT_DECODER,
    Block,
    CompactMetadata,
    Entry,
    Message,
    ToolUseResult,
)

PROMPT_LIMIT = 2000
"""Characters of a human prompt kept: enough to show and classify it, never whole pastes."""
TEXT_TAIL_LIMIT = 400
"""Characters kept from the end of assistant text: question churn reads how it ends."""
SUMMARY_LIMIT = 300
"""Characters of a tool input summary or tool result error."""

KNOWN_TYPES = frozenset(
    {
        "user", "assistant", "system", "summary", "file-history-snapshot", "queue-operation",
        "progress", "attachment", "custom-title", "ai-title", "pr-link", "saved_hook_context",
        "agent-name", "last-prompt", "mode", "agent-setting",
    }
)  # fmt: skip
"""Entry types seen in real transcripts; anything else is counted as unknown (SPEC §4.9)."""

_COMMAND_NAME = re.compile(r"<command-name>\s*(/?[^<\s]+)\s*</command-name>")
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)
_STDOUT = re.compile(r"<local-command-stdout>(.*?)</local-command-stdout>", re.S)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


@dataclass
class FileState:
    """What parsing one file needs to remember between tail reads."""

    session_id: str | None = None
    sidechain_roots: dict[str, str] = field(default_factory=dict)
    """uuid -> inline sidechain id, so 1.0.x sidechain entries group per agent."""


@dataclass
class Batch:
    """Column-oriented rows ready for Arrow, plus bookkeeping."""

    responses: dict[str, list[Any]] = field(default_factory=dict)
    events: dict[str, list[Any]] = field(default_factory=dict)
    quarantine: list[tuple[int, int, str, str]] = field(default_factory=list)
    entry_types: Counter[tuple[str, str]] = field(default_factory=Counter)
    lines: int = 0
    _response_index: dict[str, int] = field(default_factory=dict)

    def add_response(self, row: dict[str, Any]) -> None:
        """Keep one row per key: the copy with most output tokens, then the main-chain one."""
        key = row["k"]
        at = self._response_index.get(key)
        if at is None:
            self._response_index[key] = len(self.responses.get("k", ()))
            for col, value in row.items():
                self.responses.setdefault(col, []).append(value)
            return
        old_out = self.responses["output_tokens"][at]
        better = row["output_tokens"] > old_out or (
            row["output_tokens"] == old_out
            and not row["is_sidechain"]
            and self.responses["is_sidechain"][at]
        )
        if better:
            for col, value in row.items():
                self.responses[col][at] = value

    def add_event(self, row: dict[str, Any]) -> None:
        for col, value in row.items():
            self.events.setdefault(col, []).append(value)

    @property
    def response_count(self) -> int:
        return len(self.responses.get("k", ()))


def clean_text(text: str) -> str:
    """Strip ANSI sequences and control characters: transcript text is hostile (SPEC §8)."""
    text = _ANSI.sub("", text)
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t")


def parse_chunk(buf: bytes, base_offset: int, path: str, state: FileState) -> Batch:
    """Parse complete lines of `buf`, which starts at byte `base_offset` of `path`."""
    batch = Batch()
    offset = base_offset
    for line in buf.split(b"\n"):
        line_offset = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        batch.lines += 1
        entry, problem = decode_entry(line)
        if entry is None:
            batch.quarantine.append((line_offset, len(line), problem, line[:200].decode("utf-8", "replace")))
            continue
        _handle_entry(entry, batch, path, line_offset, state)
    return batch


def decode_entry(line: bytes) -> tuple[Entry | None, str]:
    """Typed decode first; on a type surprise, a lenient field-by-field decode."""
    try:
        return ENTRY_DECODER.decode(line), ""
    except msgspec.ValidationError:
        pass
    except msgspec.DecodeError as exc:
        return None, f"invalid JSON: {exc}"
    try:
        obj = GENERIC_DECODER.decode(line)
    except msgspec.DecodeError as exc:
        return None, f"invalid JSON: {exc}"
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


def _handle_entry(entry: Entry, batch: Batch, path: str, offset: int, state: FileState) -> None:
    etype = entry.type or "<none>"
    batch.entry_types[(etype, entry.version or "")] += 1
    if entry.sessionId and state.session_id is None:
        state.session_id = entry.sessionId
    ctx = _Context(entry, path, offset, state)
    if etype == "assistant":
        _assistant(entry, ctx, batch)
    elif etype == "user":
        _user(entry, ctx, batch)
    elif etype == "system":
        _system(entry, ctx, batch)


class _Context:
    """Fields shared by every row that one entry produces."""

    __slots__ = ("agent_id", "is_sidechain", "offset", "path", "session_id", "ts", "uuid", "parent")

    def __init__(self, entry: Entry, path: str, offset: int, state: FileState) -> None:
        self.session_id = entry.sessionId or state.session_id
        self.is_sidechain = bool(entry.isSidechain)
        self.agent_id = entry.agentId if self.is_sidechain else None
        if self.is_sidechain and self.agent_id is None:
            self.agent_id = _inline_sidechain_id(entry, state)
        self.ts = _naive_utc(entry.timestamp)
        self.uuid = entry.uuid
        self.parent = entry.parentUuid
        self.path = path
        self.offset = offset

    def event(self, index: int, kind: str, **values: Any) -> dict[str, Any]:
        key = f"{self.uuid}:{index}" if self.uuid else f"{self.path}:{self.offset}:{index}"
        row = {
            "k": key, "session_id": self.session_id, "agent_id": self.agent_id,
            "is_sidechain": self.is_sidechain, "ts": self.ts, "uuid": self.uuid,
            "parent_uuid": self.parent, "kind": kind, "subtype": None, "name": None,
            "tool_use_id": None, "text": None, "is_error": None, "model": None,
            "ref_agent_id": None, "pre_tokens": None, "trigger": None, "message_id": None,
            "file_path": self.path, "line_offset": self.offset,
        }  # fmt: skip
        row.update(values)
        return row


def _inline_sidechain_id(entry: Entry, state: FileState) -> str:
    """1.0.x sidechains have no agentId: name each by its root entry's uuid."""
    parent = entry.parentUuid
    root = state.sidechain_roots.get(parent) if parent else None
    if root is None:
        root = "side-" + (entry.uuid or "unknown")[:8]
    if entry.uuid:
        state.sidechain_roots[entry.uuid] = root
    return root


def _naive_utc(ts: datetime | None) -> datetime | None:
    if ts is None or ts.tzinfo is None:
        return ts
    return ts.astimezone(timezone.utc).replace(tzinfo=None)


def _assistant(entry: Entry, ctx: _Context, batch: Batch) -> None:
    msg = entry.message
    if msg is None:
        return
    if msg.model == "<synthetic>" or entry.isApiErrorMessage:
        batch.add_event(ctx.event(0, "api_error", text=_block_text(msg), message_id=msg.id))
        return
    _content_events(msg, ctx, batch)
    usage = msg.usage
    if usage is None or not msg.model or not msg.id:
        return
    batch.add_response(response_row(entry, msg, usage, ctx))


def response_row(entry: Entry, msg: Message, usage: Any, ctx: _Context) -> dict[str, Any]:
    """One API response's usage, with cache writes split by lifetime (SPEC §3)."""
    w5, w1h = cache_writes(usage)
    model = msg.model or ""
    return {
        "k": f"{msg.id}:{entry.requestId or ''}",
        "source_kind": "claude",
        "session_id": ctx.session_id,
        "agent_id": ctx.agent_id,
        "is_sidechain": ctx.is_sidechain,
        "ts": ctx.ts,
        "model": model,
        "model_base": model_base(model),
        "tier": tier_of(model),
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_tokens": usage.cache_read_input_tokens or 0,
        "cache_write_5m_tokens": w5,
        "cache_write_1h_tokens": w1h,
        "web_search_requests": (usage.server_tool_use.web_search_requests or 0) if usage.server_tool_use else 0,
        "speed": usage.speed,
        "inference_geo": usage.inference_geo,
        "service_tier": usage.service_tier,
        "is_batch": usage.service_tier == "batch",
        "stop_reason": msg.stop_reason,
        "project": entry.cwd,
        "git_branch": entry.gitBranch or None,
        "version": entry.version,
        "request_id": entry.requestId,
        "message_id": msg.id,
        "uuid": entry.uuid,
        "parent_uuid": entry.parentUuid,
        "file_path": ctx.path,
        "line_offset": ctx.offset,
    }


def cache_writes(usage: Any) -> tuple[int, int]:
    """The 5-minute and 1-hour writes: the breakdown when present, else the flat field as 5m."""
    flat = usage.cache_creation_input_tokens or 0
    cc = usage.cache_creation
    if cc is not None and (cc.ephemeral_5m_input_tokens is not None or cc.ephemeral_1h_input_tokens is not None):
        w5 = cc.ephemeral_5m_input_tokens or 0
        w1h = cc.ephemeral_1h_input_tokens or 0
        if w5 + w1h == 0 and flat:
            return flat, 0
        return w5, w1h
    return flat, 0


def _block_text(msg: Message) -> str | None:
    if isinstance(msg.content, str):
        return clean_text(msg.content)[:SUMMARY_LIMIT]
    for block in msg.content or ():
        if block.text:
            return clean_text(block.text)[:SUMMARY_LIMIT]
    return None


def _content_events(msg: Message, ctx: _Context, batch: Batch) -> None:
    """Assistant text tails and tool calls."""
    blocks = msg.content if isinstance(msg.content, list) else []
    for i, block in enumerate(blocks):
        if block.type == "text" and block.text:
            batch.add_event(ctx.event(i, "text", text=clean_text(block.text)[-TEXT_TAIL_LIMIT:], message_id=msg.id))
        elif block.type == "tool_use":
            batch.add_event(_tool_use_event(block, i, ctx, msg.id))


def _tool_use_event(block: Block, index: int, ctx: _Context, message_id: str | None) -> dict[str, Any]:
    summary, subtype, model = None, None, None
    if block.input:
        try:
            args = TOOL_INPUT_DECODER.decode(block.input)
        except (msgspec.ValidationError, msgspec.DecodeError):
            args = None
        if args is not None:
            summary = _summarise_input(block.name or "", args, bytes(block.input))
            subtype, model = args.subagent_type, args.model
    return ctx.event(
        index, "tool_use", name=block.name, tool_use_id=block.id, text=summary,
        subtype=subtype, model=model, message_id=message_id,
    )  # fmt: skip


def _summarise_input(name: str, args: Any, raw: bytes) -> str:
    """A short, stable description of a tool call: the command, the file, the agent."""
    if args.command:
        return clean_text(" ".join(args.command.split()))[:SUMMARY_LIMIT]
    for value in (args.file_path, args.path, args.pattern, args.url, args.query, args.skill):
        if value:
            return clean_text(value)[:SUMMARY_LIMIT]
    if args.description or args.prompt:
        return clean_text(args.description or args.prompt or "")[:SUMMARY_LIMIT]
    return clean_text(raw[:SUMMARY_LIMIT].decode("utf-8", "replace"))


def _user(entry: Entry, ctx: _Context, batch: Batch) -> None:
    msg = entry.message
    content = msg.content if msg is not None else None
    if isinstance(content, str):
        _user_text(entry, content, ctx, batch)
        return
    texts: list[str] = []
    for i, block in enumerate(content or ()):
        if block.type == "tool_result":
            batch.add_event(_tool_result_event(entry, block, i, ctx))
        elif block.type == "text" and block.text:
            texts.append(block.text)
    if texts:
        _user_text(entry, "\n".join(texts), ctx, batch)


def _user_text(entry: Entry, text: str, ctx: _Context, batch: Batch) -> None:
    """Classify a text user entry: a human prompt, a command, its output, or meta."""
    if entry.isCompactSummary:
        batch.add_event(ctx.event(0, "compact_summary", text=clean_text(text)[:SUMMARY_LIMIT]))
        return
    if entry.isMeta or text.startswith("<local-command-caveat>"):
        return
    command = _COMMAND_NAME.search(text)
    if command:
        args = _COMMAND_ARGS.search(text)
        batch.add_event(ctx.event(0, "command", name=command.group(1), text=clean_text(args.group(1).strip()) if args else None))
        return
    stdout = _STDOUT.search(text)
    if stdout:
        batch.add_event(ctx.event(0, "command_stdout", text=clean_text(stdout.group(1))[:SUMMARY_LIMIT]))
        return
    if text.startswith("[Request interrupted"):
        batch.add_event(ctx.event(0, "interrupt", text=text[:SUMMARY_LIMIT]))
        return
    batch.add_event(ctx.event(0, "prompt", text=clean_text(text)[:PROMPT_LIMIT]))


def _tool_result_event(entry: Entry, block: Block, index: int, ctx: _Context) -> dict[str, Any]:
    result = entry.toolUseResult
    model = result.model if isinstance(result, ToolUseResult) else None
    agent = result.agentId if isinstance(result, ToolUseResult) else None
    text = None
    if block.is_error:
        text = _result_text(block, result)
    return ctx.event(
        index, "tool_result", tool_use_id=block.tool_use_id, is_error=bool(block.is_error),
        model=model, ref_agent_id=agent, text=text,
    )  # fmt: skip


def _result_text(block: Block, result: Any) -> str | None:
    """The start of an error result, for the timeline: never a whole tool output."""
    if isinstance(result, str):
        return clean_text(result[:SUMMARY_LIMIT])
    if block.content:
        raw = bytes(block.content)[: SUMMARY_LIMIT * 4]
        return clean_text(raw.decode("utf-8", "replace"))[:SUMMARY_LIMIT]
    return None


def _system(entry: Entry, ctx: _Context, batch: Batch) -> None:
    subtype = entry.subtype
    text = entry.content if isinstance(entry.content, str) else None
    if subtype == "local_command" and text:
        command = _COMMAND_NAME.search(text)
        if command:
            args = _COMMAND_ARGS.search(text)
            batch.add_event(ctx.event(0, "command", name=command.group(1), text=clean_text(args.group(1).strip()) if args else None))
            return
    meta: CompactMetadata | None = entry.compactMetadata
    kind = "api_error" if subtype == "api_error" else "system"
    batch.add_event(
        ctx.event(
            0, kind, subtype=subtype, text=clean_text(text)[:SUMMARY_LIMIT] if text else None,
            pre_tokens=meta.preTokens if meta else None, trigger=meta.trigger if meta else None,
        )
    )  # fmt: skip
