"""Qwen Code 0.1–0.3 sessions: `~/.qwen/tmp/<hash>/chats/session-*.json`, Gemini CLI's single-JSON record.

The file is one `ConversationRecord` (formats/gemini.md §2.1) rewritten whole on
every change, with `type: "qwen"` where Gemini writes `"gemini"` (qwen.md §1).
Counting (gemini.md §3, with Qwen's token semantics): a request is a `qwen`
(or `gemini`) message whose `tokens` is an object, keyed `(sessionId, id)` so a
re-read adds nothing; `input = tokens.input − cached + tool`, `cache_read =
cached`; thoughts are added to output only when `total` says they are additive
(Qwen's OpenAI-style generators put them inside `output`). A file that does
not parse is quarantined whole and read again when it changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.rows import PROMPT_LIMIT, SUMMARY_LIMIT, TEXT_TAIL_LIMIT, Batch
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.common import LineProblem, obj_of, text_of, token, ts_from_iso
from tiermon.ingest.sources.qwen.chat import NUDGE, Ctx, FileState, add_event, response_row, tool_use

MODEL_TYPES = frozenset({"qwen", "gemini"})
_DECODER = msgspec.json.Decoder()
Json = dict[str, Any]


def parse_legacy(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """The whole session file: a response row per model message with tokens, and its events."""
    del base_offset, state  # read whole every time it changes
    batch = Batch()
    try:
        record = _DECODER.decode(buf)
    except msgspec.DecodeError as exc:
        batch.quarantine_line(0, buf, f"invalid JSON: {exc}")
        return batch
    messages = record.get("messages") if isinstance(record, dict) else None
    if not isinstance(record, dict) or not isinstance(messages, list):
        batch.quarantine_line(0, buf, "not a session record (no messages list)")
        return batch
    sid = text_of(record.get("sessionId")) or Path(path).stem
    project = text_of(record.get("projectHash"))
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        batch.lines += 1
        try:
            _message(message, Ctx(_record(message, project), sid, None, False, ts_from_iso(message.get("timestamp")),
                                  _uuid(message, sid, index), path, index), batch)  # fmt: skip
        except LineProblem as exc:
            batch.quarantine_line(index, msgspec.json.encode(message)[:400], str(exc))
    return batch


def _record(message: Json, project: str | None) -> Json:
    """The fields a JSONL record has that response_row and add_event read."""
    return {"cwd": project, "version": None, "gitBranch": None, "parentUuid": None, **message}


def _uuid(message: Json, sid: str, index: int) -> str:
    return text_of(message.get("id")) or f"{sid}#{index}"


def _message(message: Json, ctx: Ctx, batch: Batch) -> None:
    mtype = text_of(message.get("type")) or "<none>"
    batch.entry_types[(f"legacy/{mtype}", "", mtype in (*MODEL_TYPES, "user", "info", "error", "warning"))] += 1
    if mtype in MODEL_TYPES:
        _model_message(message, ctx, batch)
    elif mtype == "user":
        text = _text(message.get("content"))
        if text and text != NUDGE and not _is_tool_response(message.get("content")):
            add_event(ctx, 0, "prompt", batch, text=clean_text(text)[:PROMPT_LIMIT])
    elif mtype == "error":
        text = _text(message.get("content")) or "error"
        add_event(ctx, 0, "api_error", batch, subtype="error", text=clean_text(text)[:SUMMARY_LIMIT], is_error=True)


def _model_message(message: Json, ctx: Ctx, batch: Batch) -> None:
    model = text_of(message.get("model")) or "unknown"
    tokens = message.get("tokens")
    if isinstance(tokens, dict):
        batch.add_response(response_row(ctx, f"{ctx.session_id}:{ctx.uuid}", model, _buckets(tokens), FileState(),
                                        message_id=ctx.uuid))  # fmt: skip
    text = _text(message.get("content"))
    if text:
        add_event(ctx, "text", "text", batch, text=clean_text(text)[-TEXT_TAIL_LIMIT:], model=model)
    for i, call in enumerate(message.get("toolCalls") or ()):
        if not isinstance(call, dict):
            continue
        tool_use(ctx, i, call, batch)
        status = call.get("status")
        if status in ("success", "error", "cancelled"):
            error = clean_text(_text(call.get("result")) or "error")[:SUMMARY_LIMIT] if status == "error" else None
            add_event(ctx, f"r{i}", "tool_result", batch, tool_use_id=text_of(call.get("id")),
                      is_error=status == "error", text=error)  # fmt: skip


def _buckets(tokens: Json) -> tuple[int, int, int, int | None]:
    """(input, cache_read, output, reasoning) of a Gemini-style `tokens` object."""
    prompt = token(tokens.get("input"), "tokens.input")
    out = token(tokens.get("output"), "tokens.output")
    cached = token(tokens.get("cached"), "tokens.cached")
    thoughts = token(tokens.get("thoughts"), "tokens.thoughts")
    tool = token(tokens.get("tool"), "tokens.tool")
    total = token(tokens.get("total"), "tokens.total")
    additive = thoughts > 0 and total == prompt + out + thoughts + tool
    reasoning = thoughts if "thoughts" in tokens else None
    return max(prompt - cached, 0) + tool, cached, out + (thoughts if additive else 0), reasoning


def _text(content: object) -> str | None:
    """A message's text: a string, or the text of its non-thought parts."""
    if isinstance(content, str):
        return content.strip() or None
    if isinstance(content, list):
        texts = [p["text"] for p in content if isinstance(p, dict) and text_of(p.get("text")) and not p.get("thought")]
        return "\n".join(texts).strip() or None
    return None


def _is_tool_response(content: object) -> bool:
    return isinstance(content, list) and any(isinstance(p, dict) and obj_of(p).get("functionResponse") for p in content)
