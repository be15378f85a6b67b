"""Qwen Code chat records (`~/.qwen/projects/<cwd>/chats/<sessionId>.jsonl`, ≥ 0.4) -> source rows.

Counting rules (formats/qwen.md §3), one usage record per model request:
- every `type:"assistant"` record with `usageMetadata` is one request, keyed
  `(sessionId, uuid)` (uuids repeat across resumed sessions);
- records carrying `forkedFrom` are `/branch` copies of the parent: skipped;
- `input = prompt − cached`, `cache_read = cached`, no cache writes;
  thoughts are inside candidates (OpenAI-style providers) unless
  `total == prompt + candidates + thoughts` (Gemini auth), then added;
- `ui_telemetry` `qwen-code.api_response` events repeat main-chain usage and
  never add; those whose `prompt_id` is `<sessionId>#<agentId>#<n>` are the
  only record of a subagent's requests and count as sidechain rows; a task
  result's `executionSummary` counts (aggregate, model unknown) only when no
  such event preceded it.
Vendor: `local` for Ollama-style `name:tag` ids and models a `session_model`
record served from a loopback base URL, else by model family (default
`alibaba`). The free Qwen OAuth alias `coder-model` is left to pricing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.models import model_base, tier_of, vendor_of
from tiermon.ingest.rows import (
    PROMPT_LIMIT,
    SUMMARY_LIMIT,
    TEXT_TAIL_LIMIT,
    TOOL_ASK,
    TOOL_READ,
    TOOL_SHELL,
    Batch,
)
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.common import (
    LOCAL_VENDOR,
    LineProblem,
    is_local_model,
    is_local_url,
    obj_of,
    summarise,
    text_of,
    token,
    ts_from_iso,
)

SOURCE_KIND = "qwen"
AGENT = "qwen-code"
DEFAULT_VENDOR = "alibaba"

KNOWN_TYPES = frozenset({
    "user", "assistant", "tool_result", "system/ui_telemetry", "system/chat_compression", "system/slash_command",
    "system/rewind", "system/session_model", "system/custom_title", "system/at_command",
    "system/attribution_snapshot", "system/file_history_snapshot", "system/turn_result",
})  # fmt: skip
"""Record types (system ones with their subtype) this source knows; others are counted as unknown."""

NUDGE = "Please continue."
"""The next-speaker nudge Qwen Code writes as a plain user record: not a human prompt."""
_SUBAGENT_PROMPT_ID = re.compile(r"^([^#]+)#([^#]+)#(\d+)$")
"""`<sessionId>#<agentId>#<n>`; main-chain calls use `<sessionId>########<n>` and never match."""
TOOL_NAMES = {
    "run_shell_command": TOOL_SHELL,
    "read_file": TOOL_READ,
    "agent": "Agent",
    "task": "Task",
    "ask_user_question": TOOL_ASK,
}
"""Qwen Code's tool names that have a canonical name in the contract."""

_DECODER = msgspec.json.Decoder()
Json = dict[str, Any]


class FileState(msgspec.Struct):
    """What one chat file's parse carries between reads (stored with the file's mark)."""

    session_id: str | None = None
    local_model: str | None = None
    """The model a `session_model` record served from a loopback base URL."""
    last_command: str | None = None
    """The last slash command invoked: a compression right after `/compress` is manual."""
    subagent_requests: int = 0
    """Subagent telemetry requests counted since the last task result (never add its summary too)."""


@dataclass(frozen=True)
class Ctx:
    """What every row of one record shares."""

    rec: Json
    session_id: str
    agent_id: str | None
    is_sidechain: bool
    ts: datetime | None
    uuid: str | None
    path: str
    offset: int

    def key(self, index: int | str) -> str:
        if self.uuid:
            return f"{self.session_id}:{self.uuid}:{index}"
        return f"{self.path}:{self.offset}:{index}"


def parse_chunk(buf: bytes | bytearray, base_offset: int, path: str, state: FileState) -> Batch:
    """Parse complete chat-record lines of `buf`, which starts at byte `base_offset` of `path`."""
    batch = Batch()
    offset = base_offset
    for line in buf.split(b"\n"):
        at = offset
        offset += len(line) + 1
        if not line.strip():
            continue
        batch.lines += 1
        try:
            rec = _DECODER.decode(line)
            if not isinstance(rec, dict):
                raise LineProblem("not a JSON object")
            _record(rec, path, at, state, batch)
        except msgspec.DecodeError as exc:
            batch.quarantine_line(at, line, f"invalid JSON: {exc}")
        except LineProblem as exc:
            batch.quarantine_line(at, line, str(exc))
    return batch


def _record(rec: Json, path: str, offset: int, state: FileState, batch: Batch) -> None:
    """Rows of one record; a record that cannot be used raises LineProblem before adding any."""
    rtype = text_of(rec.get("type")) or "<none>"
    subtype = text_of(rec.get("subtype"))
    label = f"{rtype}/{subtype}" if rtype == "system" and subtype else rtype
    batch.entry_types[(label, text_of(rec.get("version")) or "", label in KNOWN_TYPES)] += 1
    sid = text_of(rec.get("sessionId"))
    if sid and state.session_id is None:
        state.session_id = sid
    if rec.get("forkedFrom"):
        return  # a /branch copy of the parent session's record: the parent counts it
    agent_id = text_of(rec.get("agentId"))
    ctx = Ctx(
        rec, sid or state.session_id or Path(path).stem, agent_id, bool(rec.get("isSidechain")) or agent_id is not None,
        ts_from_iso(rec.get("timestamp")), text_of(rec.get("uuid")), path, offset,
    )  # fmt: skip
    if rtype == "assistant":
        _assistant(ctx, state, batch)
    elif rtype == "user" and subtype is None:
        _user(ctx, batch)
    elif rtype == "tool_result":
        _tool_result(ctx, state, batch)
    elif rtype == "system":
        _system(ctx, subtype, state, batch)


# -- responses ---------------------------------------------------------------------


def _assistant(ctx: Ctx, state: FileState, batch: Batch) -> None:
    rec = ctx.rec
    usage = rec.get("usageMetadata")
    model = text_of(rec.get("model")) or "unknown"
    if usage is not None and not ctx.is_sidechain:  # a subagent's usage is recorded by telemetry only (§3.4)
        if not isinstance(usage, dict):
            raise LineProblem("usageMetadata is not an object")
        key = f"{ctx.session_id}:{ctx.uuid}" if ctx.uuid else f"{ctx.path}:{ctx.offset}"
        batch.add_response(response_row(ctx, key, model, _usage_tokens(usage), state, message_id=ctx.uuid))
    message = rec.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    if isinstance(parts, list):
        _model_parts(ctx, parts, model, batch)


def _usage_tokens(usage: Json) -> tuple[int, int, int, int | None]:
    """(input, cache_read, output, reasoning) of a `usageMetadata` object (qwen.md §3.3)."""
    prompt = token(usage.get("promptTokenCount"), "promptTokenCount")
    cand = token(usage.get("candidatesTokenCount"), "candidatesTokenCount")
    cached = token(usage.get("cachedContentTokenCount"), "cachedContentTokenCount")
    thoughts = token(usage.get("thoughtsTokenCount"), "thoughtsTokenCount")
    total = token(usage.get("totalTokenCount"), "totalTokenCount")
    reasoning = thoughts if "thoughtsTokenCount" in usage else None
    return buckets(prompt, cand, cached, thoughts, total, reasoning)


def buckets(
    prompt: int, cand: int, cached: int, thoughts: int, total: int, reasoning: int | None
) -> tuple[int, int, int, int | None]:
    """Prompt includes cached; thoughts are additive only when the total says so."""
    additive = thoughts > 0 and total == prompt + cand + thoughts
    return max(prompt - cached, 0), cached, cand + (thoughts if additive else 0), reasoning


def response_row(
    ctx: Ctx, key: str, model: str, tokens: tuple[int, int, int, int | None], state: FileState,
    *, message_id: str | None, request_id: str | None = None, agent_id: str | None = None,
) -> Json:  # fmt: skip
    inp, cache_read, out, reasoning = tokens
    rec = ctx.rec
    sidechain = ctx.is_sidechain or agent_id is not None
    return {
        "k": key, "source_kind": SOURCE_KIND, "session_id": ctx.session_id,
        "agent_id": agent_id or ctx.agent_id, "is_sidechain": sidechain, "ts": ctx.ts, "model": model,
        "model_base": model_base(model), "tier": tier_of(model), "input_tokens": inp, "output_tokens": out,
        "cache_read_tokens": cache_read, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0,
        "web_search_requests": 0, "speed": None, "inference_geo": None, "service_tier": None, "is_batch": False,
        "stop_reason": None, "project": text_of(rec.get("cwd")), "git_branch": text_of(rec.get("gitBranch")),
        "version": text_of(rec.get("version")), "request_id": request_id, "message_id": message_id,
        "uuid": ctx.uuid, "parent_uuid": text_of(rec.get("parentUuid")), "file_path": ctx.path,
        "line_offset": ctx.offset, "agent": AGENT, "vendor": _vendor(model, state), "reasoning_tokens": reasoning,
    }  # fmt: skip


def _vendor(model: str, state: FileState) -> str:
    if model == state.local_model or is_local_model(model):
        return LOCAL_VENDOR
    return vendor_of(model, default=DEFAULT_VENDOR)


def _subagent_usage(ctx: Ctx, event: Json, state: FileState, batch: Batch) -> None:
    """A subagent's request: only its telemetry event records it (qwen.md §3.4)."""
    match = _SUBAGENT_PROMPT_ID.match(str(event.get("prompt_id") or ""))
    if match is None or not any(k in event for k in ("input_token_count", "output_token_count")):
        return  # a main-chain copy of an assistant record's usage, or a slimmed event without tokens
    prompt = token(event.get("input_token_count"), "input_token_count")
    cand = token(event.get("output_token_count"), "output_token_count")
    cached = token(event.get("cached_content_token_count"), "cached_content_token_count")
    thoughts = token(event.get("thoughts_token_count"), "thoughts_token_count")
    total = token(event.get("total_token_count"), "total_token_count")
    reasoning = thoughts if "thoughts_token_count" in event else None
    response_id = text_of(event.get("response_id"))
    key = f"{ctx.session_id}:{response_id or match.group(0)}"
    model = text_of(event.get("model")) or "unknown"
    sub_ctx = Ctx(ctx.rec, ctx.session_id, match.group(2), True, ts_from_iso(event.get("event.timestamp")) or ctx.ts,
                   ctx.uuid, ctx.path, ctx.offset)  # fmt: skip
    tokens = buckets(prompt, cand, cached, thoughts, total, reasoning)
    batch.add_response(response_row(sub_ctx, key, model, tokens, state, message_id=None, request_id=response_id))
    state.subagent_requests += 1


def _summary_usage(ctx: Ctx, call_id: str | None, display: Json, state: FileState, batch: Batch) -> None:
    """A task result's aggregate usage, counted only when no telemetry event recorded the subagent's calls."""
    summary = display.get("executionSummary")
    seen, state.subagent_requests = state.subagent_requests, 0
    if seen or not isinstance(summary, dict):
        return
    prompt = token(summary.get("inputTokens"), "executionSummary.inputTokens")
    cand = token(summary.get("outputTokens"), "executionSummary.outputTokens")
    cached = token(summary.get("cachedTokens"), "executionSummary.cachedTokens")
    thoughts = token(summary.get("thoughtTokens"), "executionSummary.thoughtTokens")
    total = token(summary.get("totalTokens"), "executionSummary.totalTokens")
    if not (prompt or cand):
        return
    agent = text_of(display.get("subagentName")) or "subagent"
    key = f"{ctx.session_id}:{call_id or ctx.uuid}:summary"
    tokens = buckets(prompt, cand, cached, thoughts, total, thoughts)
    batch.add_response(response_row(ctx, key, "unknown", tokens, state, message_id=None, agent_id=agent))


# -- events ------------------------------------------------------------------------


def add_event(ctx: Ctx, index: int | str, kind: str, batch: Batch, **fields: Any) -> None:
    row = {
        "k": ctx.key(index), "session_id": ctx.session_id, "agent_id": ctx.agent_id,
        "is_sidechain": ctx.is_sidechain, "ts": ctx.ts, "uuid": ctx.uuid,
        "parent_uuid": text_of(ctx.rec.get("parentUuid")), "kind": kind, "file_path": ctx.path,
        "line_offset": ctx.offset, "agent": AGENT,
    }  # fmt: skip
    row.update(fields)
    batch.add_event(row)


def _user(ctx: Ctx, batch: Batch) -> None:
    """A plain user record is a human prompt, unless it is the CLI's nudge or a subagent's task."""
    if ctx.is_sidechain:
        return
    message = ctx.rec.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    texts = [p["text"] for p in parts or () if isinstance(p, dict) and text_of(p.get("text")) and not p.get("thought")]
    text = "\n".join(texts).strip()
    if text and text != NUDGE:
        add_event(ctx, 0, "prompt", batch, text=clean_text(text)[:PROMPT_LIMIT])


def _model_parts(ctx: Ctx, parts: list[Any], model: str, batch: Batch) -> None:
    """The tail of the answer's text and its tool calls."""
    texts = [p["text"] for p in parts if isinstance(p, dict) and text_of(p.get("text")) and not p.get("thought")]
    if texts:
        add_event(ctx, "text", "text", batch, text=clean_text(texts[-1])[-TEXT_TAIL_LIMIT:], model=model)
    for i, part in enumerate(parts):
        call = part.get("functionCall") if isinstance(part, dict) else None
        if isinstance(call, dict):
            tool_use(ctx, i, call, batch)


def tool_use(ctx: Ctx, index: int, call: Json, batch: Batch) -> None:
    raw_name = text_of(call.get("name")) or "unknown"
    name = TOOL_NAMES.get(raw_name, raw_name)
    args = obj_of(call.get("args"))
    subtype = text_of(args.get("subagent_type")) if name in ("Agent", "Task") else None
    add_event(ctx, index, "tool_use", batch, name=name, tool_use_id=text_of(call.get("id")),
           text=summarise(args), subtype=subtype)  # fmt: skip


def _tool_result(ctx: Ctx, state: FileState, batch: Batch) -> None:
    result = ctx.rec.get("toolCallResult")
    if not isinstance(result, dict):
        return
    call_id = text_of(result.get("callId"))
    error = result.get("error")
    is_error = result.get("status") == "error" or bool(error)
    text = None
    if is_error:
        message = error.get("message") if isinstance(error, dict) else error
        text = clean_text(str(message or result.get("status")))[:SUMMARY_LIMIT]
    display = result.get("resultDisplay")
    if isinstance(display, dict) and display.get("type") == "task_execution":
        _summary_usage(ctx, call_id, display, state, batch)
    add_event(ctx, 0, "tool_result", batch, tool_use_id=call_id, is_error=is_error, text=text)


def _system(ctx: Ctx, subtype: str | None, state: FileState, batch: Batch) -> None:
    payload = obj_of(ctx.rec.get("systemPayload"))
    if subtype == "ui_telemetry":
        _telemetry(ctx, payload.get("uiEvent"), state, batch)
    elif subtype == "chat_compression":
        info = obj_of(payload.get("info"))
        before = token(info.get("originalTokenCount"), "originalTokenCount")
        after = token(info.get("newTokenCount"), "newTokenCount")
        trigger = "manual" if state.last_command == "/compress" else "auto"
        state.last_command = None
        add_event(ctx, 0, "system", batch, subtype="compact_boundary", pre_tokens=before or None, trigger=trigger,
               text=f"compressed {before} -> {after} tokens")  # fmt: skip
    elif subtype == "slash_command":
        _slash_command(ctx, payload, state, batch)
    elif subtype == "session_model":
        model = text_of(payload.get("modelId"))
        base_url = text_of(payload.get("baseUrl"))
        if model and base_url and is_local_url(base_url):
            state.local_model = model
        if model:
            add_event(ctx, 0, "command", batch, name="/model", text=clean_text(model)[:SUMMARY_LIMIT])
    elif subtype == "rewind":
        count = payload.get("truncatedCount")
        add_event(ctx, 0, "system", batch, subtype="rewind", text=f"{count} records rewound" if count else None)


def _slash_command(ctx: Ctx, payload: Json, state: FileState, batch: Batch) -> None:
    """`/model qwen3-coder-plus` -> a command event named `/model` with the new model as its text."""
    raw = text_of(payload.get("rawCommand"))
    if raw is None:
        return
    name, _, args = raw.strip().partition(" ")
    if payload.get("phase") == "invocation":
        state.last_command = name
        add_event(ctx, 0, "command", batch, name=clean_text(name)[:SUMMARY_LIMIT],
               text=clean_text(args.strip())[:SUMMARY_LIMIT] or None)  # fmt: skip
        return
    items = payload.get("outputHistoryItems")
    texts = [i["text"] for i in items or () if isinstance(i, dict) and text_of(i.get("text"))]
    if texts:
        add_event(ctx, 0, "command_stdout", batch, text=clean_text("\n".join(texts))[:SUMMARY_LIMIT])


def _telemetry(ctx: Ctx, event: object, state: FileState, batch: Batch) -> None:
    """UI telemetry replayed by /stats: a subagent's usage, or an API error (`error` or, newer, `error_message`)."""
    if not isinstance(event, dict):
        return
    name = str(event.get("event.name") or "").removeprefix("qwen-code.")
    if name == "api_response":
        _subagent_usage(ctx, event, state, batch)
    elif name == "api_error":
        etype = text_of(event.get("error_type")) or "api_error"
        message = text_of(event.get("error_message")) or text_of(event.get("error")) or etype
        status = event.get("status_code")
        code = clean_text(str(status))[:20] if isinstance(status, (int, str)) and status != "" else None
        model = text_of(event.get("model"))
        add_event(ctx, 0, "api_error", batch, subtype=clean_text(etype)[:SUMMARY_LIMIT], name=code,
                  text=clean_text(message)[:SUMMARY_LIMIT], is_error=True, model=model)  # fmt: skip
