"""Anthropic API log lines -> response rows and api_error events (SPEC §2.2-2.3).

An API log is JSONL that programs calling the Messages API write. Each line
is one of these shapes, told apart by their keys:

- a bare Messages API response: `{"type": "message", "id", "model", "usage", …}`;
- the same wrapped: `{"ts", "request_id", "app", "response": {…}}`;
- tiermon's middleware line (`tiermon.instrument`): the wrapped form plus
  `status`, `latency_ms`, `stream`, and on failures `incomplete`, `error`,
  `model`, with `"response": null` when no message was seen;
- a Message Batches result: `{"custom_id", "result": {"type": "succeeded",
  "message": {…}}}`, priced at the batch discount;
- a recorded stream: `{"events": [SSE event objects…]}`, bare or as the
  wrapper's `response`; usage is the last `message_delta` merged over
  `message_start`, since delta usage is cumulative;
- a bare API error body `{"type": "error", "error": {…}}`;
- the final chunk of an Ollama `/api/chat` or `/api/generate` reply (`"done": true`
  with `eval_count`): a local model's request, free, with its generation time.

Responses become rows keyed `message id:request id`, like transcript rows, so
reading a file again never counts twice. A line without a time takes the
time it is first ingested; the store keeps the first copy of a key (unless a
later one has more output), so that time does not move on a re-read.

Failures become `api_error` events: `subtype` is the error type
(`overloaded_error`, a batch result's `errored`/`canceled`/`expired`, or
`incomplete` for a stream that ended before any message), `name` the HTTP
status, `text` a one-line summary, `model` the requested model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.models import model_base, tier_of
from tiermon.ingest.rows import MAX_TOKENS, SUMMARY_LIMIT, Batch, Format, SourceFile
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.anthropic_usage import Usage, cache_writes
from tiermon.ingest.walk import walk

SOURCE_KIND = "api"
"""`responses.source_kind` of every row this module makes, and `--source api=PATH`."""
AGENT = "api"
VENDOR = "anthropic"
LOCAL_VENDOR = "local"
"""Ollama replies (formats/local-models.md) are local requests."""
SUFFIXES = (".jsonl", ".ndjson", ".log")
"""Files read below a folder given as an API log."""
_DECODER = msgspec.json.Decoder()

BATCH_FAILURES = frozenset({"errored", "canceled", "expired"})
"""Message Batches result types that carry no message: counted as api_error events."""

Json = dict[str, Any]


class LineProblem(ValueError):
    """Why a line cannot be used; the message is the quarantine reason."""


@dataclass(frozen=True)
class _Where:
    """What every row of one line shares: its place in the file and the ingest clock."""

    path: str
    offset: int
    stem: str
    now: datetime


@dataclass(frozen=True)
class _Meta:
    """The wrapper's fields, or their fallbacks for a bare line."""

    ts: datetime
    request_id: str | None
    app: str
    status: int | None = None
    model: str | None = None

    @property
    def session_id(self) -> str:
        return f"api:{self.app}"


def parse_api_chunk(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """Parse complete API log lines of `buf`, which starts at byte `base_offset` of `path`."""
    del state  # API lines stand alone: nothing carries over between reads
    batch = Batch()
    now = datetime.now(UTC).replace(tzinfo=None)
    stem = Path(path).stem
    offset = base_offset
    for line in buf.split(b"\n"):
        where = _Where(path, offset, stem, now)
        offset += len(line) + 1
        if not line.strip():
            continue
        batch.lines += 1
        try:
            _handle_line(_DECODER.decode(line), where, batch)
        except msgspec.DecodeError as exc:
            _quarantine(batch, where, line, f"invalid JSON: {exc}")
        except RecursionError:
            _quarantine(batch, where, line, "JSON nested too deeply")
        except LineProblem as exc:
            _quarantine(batch, where, line, str(exc))
    return batch


def _quarantine(batch: Batch, where: _Where, line: bytes | bytearray, reason: str) -> None:
    batch.quarantine_line(where.offset, line, reason)


def _handle_line(obj: object, where: _Where, batch: Batch) -> None:
    """Dispatch one decoded line by its shape; raise LineProblem for one that fits none."""
    if not isinstance(obj, dict):
        raise LineProblem("not a JSON object")
    if "custom_id" in obj and "result" in obj:
        _batch_result(obj, where, batch)
    elif obj.get("type") == "message":
        _message(obj, _bare_meta(where), where, batch, is_batch=False)
    elif obj.get("type") == "error":
        _error_body(obj, _bare_meta(where), where, batch)
    elif isinstance(obj.get("events"), list):
        _message(merge_stream(obj["events"]), _wrapper_meta(obj, where), where, batch, is_batch=False)
    elif obj.get("done") is True and "eval_count" in obj:
        _ollama(obj, where, batch)
    elif any(key in obj for key in ("response", "error", "status")):
        _wrapped(obj, where, batch)
    else:
        raise LineProblem("not an API response, batch result or middleware line")


# -- line shapes -------------------------------------------------------------------


def _wrapped(obj: Json, where: _Where, batch: Batch) -> None:
    """A wrapper or middleware line: usage if a message came back, an event if it failed."""
    meta = _wrapper_meta(obj, where)
    response = obj.get("response")
    if isinstance(response, dict) and isinstance(response.get("events"), list):
        response = merge_stream(response["events"])
    if isinstance(response, dict) and response.get("type") == "error":
        _error_body(response, meta, where, batch)
        return
    if response is not None and not isinstance(response, dict):
        raise LineProblem("`response` is neither an object nor null")
    if response is not None:
        _message(response, meta, where, batch, is_batch=False)
    error = obj.get("error")
    if error is not None or (isinstance(meta.status, int) and meta.status >= 400):
        etype, message = _error_fields(error)
        batch.add_event(_error_event(meta, where, etype or f"http_{meta.status}", message, response))
    elif response is None:
        ended = "the response ended before any message"
        batch.add_event(_error_event(meta, where, "incomplete", ended, None))


def _batch_result(obj: Json, where: _Where, batch: Batch) -> None:
    """A Message Batches result: its message at the batch discount, or a failure event."""
    result = obj.get("result")
    if not isinstance(result, dict):
        raise LineProblem("batch result without a `result` object")
    meta = _bare_meta(where)
    rtype = result.get("type")
    if rtype == "succeeded":
        message = result.get("message")
        if not isinstance(message, dict):
            raise LineProblem("succeeded batch result without a message")
        _message(message, meta, where, batch, is_batch=True)
        return
    if rtype not in BATCH_FAILURES:
        raise LineProblem(f"batch result of unknown type {str(rtype)[:40]!r}")
    etype, text = _error_fields(result.get("error"))
    custom_id = _str(obj.get("custom_id"))
    detail = ": ".join(part for part in (etype, text) if part)
    summary = f"batch request {custom_id}" + (f": {detail}" if detail else "")
    batch.add_event(_error_event(meta, where, str(rtype), summary, None, message_id=custom_id))


def _error_body(obj: Json, meta: _Meta, where: _Where, batch: Batch) -> None:
    etype, message = _error_fields(obj.get("error"))
    batch.add_event(_error_event(meta, where, etype or "error", message, None))


def _message(message: Json, meta: _Meta, where: _Where, batch: Batch, *, is_batch: bool) -> None:
    """One Messages API response as a response row."""
    msg_id, model, usage_obj = message.get("id"), message.get("model"), message.get("usage")
    if not isinstance(msg_id, str) or not msg_id or not isinstance(model, str) or not model:
        raise LineProblem("response without a message id or model")
    if not isinstance(usage_obj, dict):
        raise LineProblem("response without usage")
    try:
        usage = msgspec.convert(usage_obj, Usage, strict=False)
    except msgspec.ValidationError as exc:
        raise LineProblem(f"bad token count: {exc}") from exc
    batch.add_response(_response_row(msg_id, model, usage, meta, where, message, is_batch=is_batch))


def _response_row(
    msg_id: str, model: str, usage: Usage, meta: _Meta, where: _Where, message: Json, *, is_batch: bool
) -> Json:
    """The row of one response: the same columns and rules as a transcript row (parse.response_row)."""
    w5, w1h = cache_writes(usage)
    stop = message.get("stop_reason")
    tools = usage.server_tool_use
    return {
        "k": f"{msg_id}:{meta.request_id or ''}",
        "source_kind": SOURCE_KIND,
        "session_id": meta.session_id,
        "agent_id": None,
        "is_sidechain": False,
        "ts": meta.ts,
        "model": model,
        "model_base": model_base(model),
        "tier": tier_of(model),
        "input_tokens": usage.input_tokens or 0,
        "output_tokens": usage.output_tokens or 0,
        "cache_read_tokens": usage.cache_read_input_tokens or 0,
        "cache_write_5m_tokens": w5,
        "cache_write_1h_tokens": w1h,
        "web_search_requests": (tools.web_search_requests or 0) if tools else 0,
        "speed": usage.speed,
        "inference_geo": usage.inference_geo,
        "service_tier": usage.service_tier or ("batch" if is_batch else None),
        "is_batch": is_batch or usage.service_tier == "batch",
        "stop_reason": stop if isinstance(stop, str) else None,
        "project": meta.app,
        "git_branch": None,
        "version": None,
        "request_id": meta.request_id,
        "message_id": msg_id,
        "uuid": None,
        "parent_uuid": None,
        "file_path": where.path,
        "line_offset": where.offset,
        "agent": AGENT,
        "vendor": VENDOR,
        "reasoning_tokens": None,
    }


def _error_event(
    meta: _Meta,
    where: _Where,
    etype: str,
    text: str | None,
    response: Json | None,
    message_id: str | None = None,
) -> Json:
    """An api_error event, keyed by the request id when known so a copied log adds nothing."""
    key = f"api:{meta.request_id}" if meta.request_id else f"{where.path}:{where.offset}:0"
    status = f"{meta.status} " if meta.status is not None else ""
    summary = f"{status}{etype}" + (f": {text}" if text else "")
    model = meta.model or (response.get("model") if response else None)
    msg_id = message_id or (response.get("id") if response else None)
    return {
        "k": key, "session_id": meta.session_id, "agent_id": None, "is_sidechain": False,
        "ts": meta.ts, "uuid": None, "parent_uuid": None, "kind": "api_error",
        "subtype": clean_text(etype)[:SUMMARY_LIMIT],
        "name": str(meta.status) if meta.status is not None else None, "tool_use_id": None,
        "text": clean_text(summary)[:SUMMARY_LIMIT], "is_error": True,
        "model": _str(model), "ref_agent_id": None, "pre_tokens": None, "trigger": None,
        "message_id": _str(msg_id), "file_path": where.path, "line_offset": where.offset, "agent": AGENT,
    }  # fmt: skip


def _ollama(obj: Json, where: _Where, batch: Batch) -> None:
    """The final chunk of an Ollama `/api/chat` or `/api/generate` reply: a local request, $0 in API fees.

    Ollama reports no cache split (`prompt_eval_count` is the whole prompt) and
    times in nanoseconds; `eval_duration` is the generation time that tokens/s
    divides by (formats/local-models.md).
    """
    model = obj.get("model")
    if not isinstance(model, str) or not model:
        raise LineProblem("Ollama reply without a model")
    prompt, output = _count(obj, "prompt_eval_count"), _count(obj, "eval_count")
    generating = _count(obj, "eval_duration")
    meta = _Meta(ts=parse_ts(obj.get("created_at")) or where.now, request_id=None, app=where.stem)
    batch.add_response({
        "k": f"ollama:{where.path}:{where.offset}", "source_kind": SOURCE_KIND, "session_id": meta.session_id,
        "is_sidechain": False, "ts": meta.ts, "model": model, "model_base": model_base(model),
        "tier": tier_of(model), "input_tokens": prompt, "output_tokens": output, "cache_read_tokens": 0,
        "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0, "web_search_requests": 0, "is_batch": False,
        "stop_reason": _str(obj.get("done_reason")), "project": meta.app, "file_path": where.path,
        "line_offset": where.offset, "agent": AGENT, "vendor": LOCAL_VENDOR,
        "duration_ms": generating // 1_000_000 if generating else None,
    })  # fmt: skip


def _count(obj: Json, key: str) -> int:
    value = obj.get(key, 0)
    if type(value) is not int or not 0 <= value <= MAX_TOKENS:
        raise LineProblem(f"bad value: {key} must be an integer in 0..2^53")
    return value


# -- streams -----------------------------------------------------------------------


def merge_stream(events: list[Any]) -> Json:
    """The message a recorded SSE stream describes.

    `message_start` gives id, model and the initial usage; every `message_delta`
    usage is cumulative, so its non-null keys replace the earlier ones (the
    SDK's accumulator does the same).
    """
    message: Json = {"type": "message", "id": None, "model": None, "usage": {}, "stop_reason": None}
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            start = event["message"]
            message.update({k: start.get(k) for k in ("id", "model", "stop_reason")})
            message["usage"] = dict(start.get("usage") or {})
        elif kind == "message_delta":
            delta = event.get("delta") or {}
            if isinstance(delta, dict) and delta.get("stop_reason") is not None:
                message["stop_reason"] = delta["stop_reason"]
            usage = event.get("usage") or {}
            if isinstance(usage, dict):
                message["usage"].update((k, v) for k, v in usage.items() if v is not None)
    return message


# -- fields ------------------------------------------------------------------------


def _bare_meta(where: _Where) -> _Meta:
    return _Meta(ts=where.now, request_id=None, app=where.stem)


def _wrapper_meta(obj: Json, where: _Where) -> _Meta:
    """Time, request id, app tag and status from a wrapper, with a bare line's fallbacks."""
    app = obj.get("app")
    status = obj.get("status")
    return _Meta(
        ts=parse_ts(obj.get("ts")) or where.now,
        request_id=_str(obj.get("request_id")),
        app=app if isinstance(app, str) and app else where.stem,
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        model=_str(obj.get("model")),
    )


def parse_ts(value: object) -> datetime | None:
    """ISO-8601 (naive means UTC) or epoch seconds/milliseconds, as naive UTC; None if neither."""
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            return None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _error_fields(error: object) -> tuple[str | None, str | None]:
    """(type, message) of an error object, also when nested as the API's `{"error": {…}}` body."""
    if not isinstance(error, dict):
        return None, None
    inner = error.get("error")
    if isinstance(inner, dict):
        error = inner
    return _str(error.get("type")), _str(error.get("message"))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# -- the source --------------------------------------------------------------------

API_LOG = Format("api-log", parse_api_chunk)


class ApiLogs:
    """Logs the user names with `--api-log PATH`; there is no default home."""

    kind: str = SOURCE_KIND
    agent: str = AGENT
    label: str = "API logs"
    formats: tuple[Format, ...] = (API_LOG,)

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        del env
        return []

    def root_for(self, path: Path) -> Path:
        return path

    def files(self, root: Path) -> Iterator[SourceFile]:
        if root.is_file():
            yield SourceFile(root, SOURCE_KIND, API_LOG.name)
            return
        for entry in walk(root):
            if entry.name.endswith(SUFFIXES):
                yield SourceFile(entry.path, SOURCE_KIND, API_LOG.name)


SOURCE = ApiLogs()
