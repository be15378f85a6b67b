"""Provides `instrument()`: log every Messages API response of an Anthropic client.

The hook is the SDK's own middleware (`Anthropic(middleware=[...])`,
`client.with_middleware(...)`, `anthropic/_middleware.py`), which runs once per
HTTP attempt inside the retry loop and sees every response, 4xx/5xx included.
So the API log holds one line per HTTP attempt that got a response: a retried
529 shows up as a 529 line followed by the line of the attempt that ended it.
Attempts that got no response at all (connection errors, timeouts) are not
logged.

A streamed body is observed by swapping the response's byte stream
(`httpx2.Response.stream`) for a pass-through that parses the server-sent
events as they go by, keeping only ids, model, usage and stop reason; the SDK
does the same swap for its own tracing (`anthropic/_tracing.py`,
`span_ending_stream`). The line is written when the body ends, is closed, or
is dropped.

Line format (read by tiermon's API-log ingest; SPEC §2.2-2.3)::

    {"ts": "2026-01-02T03:04:05.678Z", "request_id": "req_…", "app": "app" | null,
     "status": 200, "latency_ms": 812.5, "stream": false,
     "response": {"id": "msg_…", "type": "message", "model": "…",
                  "usage": {…as the API returned it…}, "stop_reason": "end_turn"}}
    {"ts": …, "request_id": … | null, "app": …, "status": 529, "latency_ms": …,
     "stream": false, "model": "<requested model>",
     "error": {"type": "overloaded_error", "message": "Overloaded"}}

`ts` is when the response ended (for a stream, its last byte). A stream that
stopped before `message_stop` also carries `"incomplete": true` (and
`"error"` when the stream sent an error event); one that never reached
`message_start` has `"response": null` and the requested `"model"`. Only with
`include_text=True` does `response` carry `content` and the line carry
`"request": {"messages": …, "system": …}`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx2

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic
    from anthropic._request import APIRequest
    from anthropic._response import APIResponse, AsyncAPIResponse

__all__ = ["API_LOG_ENV", "ApiLog", "default_api_log_path", "instrument"]

ClientT = TypeVar("ClientT", "Anthropic", "AsyncAnthropic")

API_LOG_ENV = "TIERMON_API_LOG"
"""Environment variable naming the API log file when `instrument()` gets no path."""

MESSAGES_PATH = "/v1/messages"
"""The only endpoint logged: not count_tokens, batches or models."""

MAX_BUFFERED_BYTES = 16 * 1024 * 1024
"""Largest SSE line or unread JSON body kept while parsing; beyond it usage is given up."""

_WRITE_LOCK = threading.Lock()
"""One lock for every log, so that lines from any thread or client never interleave."""


def default_api_log_path() -> Path:
    """`$TIERMON_API_LOG`, else `api-log.jsonl` in tiermon's user data dir."""
    configured = os.environ.get(API_LOG_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("tiermon")) / "api-log.jsonl"


def instrument(
    client: ClientT,
    path: str | os.PathLike[str] | None = None,
    app: str | None = None,
    *,
    include_text: bool = False,
) -> ClientT:
    """Return a client that appends one JSON line per Messages API response to the API log.

    The SDK fixes a client's middleware when the client is built, so this returns
    `client.with_middleware(...)`: a new client that shares the original's HTTP
    connection pool, credentials and options. Use the returned client; the one
    passed in stays unlogged. A client that is already instrumented is returned
    as it is.

    Args:
        client: an `anthropic.Anthropic` or `anthropic.AsyncAnthropic`.
        path: the API log; default `$TIERMON_API_LOG` or the user data dir.
        app: a tag written on every line, to tell applications apart.
        include_text: also log prompts and response content (off: no text at all).
    """
    import anthropic

    if any(isinstance(entry, _Hook) for entry in client.middleware):
        return client
    log = ApiLog(Path(path).expanduser() if path is not None else default_api_log_path())
    if isinstance(client, anthropic.AsyncAnthropic):
        return client.with_middleware(_AsyncHook(log, app, include_text))
    if isinstance(client, anthropic.Anthropic):
        return client.with_middleware(_SyncHook(log, app, include_text))
    raise TypeError(f"instrument() needs an Anthropic or AsyncAnthropic, not {type(client)!r}")


class ApiLog:
    """An append-only JSONL file that never raises into the caller."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._warned = False

    def append(self, record: Mapping[str, Any]) -> None:
        """Write `record` as one line with a single `write()`, under the process-wide lock."""
        try:
            text = json.dumps(record, ensure_ascii=False, default=str) + "\n"
            data = text.encode("utf-8", "backslashreplace")  # a lone surrogate stays a JSON escape
            with _WRITE_LOCK:
                self._write(data)
        except Exception as err:  # noqa: BLE001 - logging must never break the API call
            self.warn_once(err)

    def warn_once(self, err: BaseException) -> None:
        """Tell the user once that lines are being lost, then stay quiet."""
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"tiermon: cannot log API responses to {self.path}: {err!r}",
                RuntimeWarning,
                stacklevel=2,
            )

    def _write(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileNotFoundError:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, flags, 0o600)
        try:
            view = memoryview(data)
            while view:  # a short write only happens when the disk is full
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def _utc_now() -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, as Claude Code's transcripts write it."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _message_summary(message: Mapping[str, Any], include_text: bool) -> dict[str, Any]:
    """The fields of a Message the log keeps: never its text unless asked."""
    summary = {key: message.get(key) for key in ("id", "type", "model", "usage", "stop_reason")}
    if include_text:
        summary["content"] = message.get("content")
    return summary


def _api_error(body: object, reason: str) -> dict[str, Any]:
    """`{"type", "message"}` from an API error body, or the HTTP reason when it is not one."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return {"type": error.get("type"), "message": error.get("message")}
    return {"type": None, "message": reason}


class _Attempt:
    """One HTTP attempt on its way to becoming a log line."""

    def __init__(self, hook: _Hook, request: APIRequest) -> None:
        self.hook = hook
        self.started = time.perf_counter()
        body = request.json if isinstance(request.json, Mapping) else {}
        self.stream = bool(request.stream)
        self.model = body.get("model")
        self.request_text = (
            {"messages": body.get("messages"), "system": body.get("system")}
            if hook.include_text
            else None
        )

    def _line(
        self, http: httpx2.Response, fields: Mapping[str, Any], request_id: object = None
    ) -> None:
        line: dict[str, Any] = {
            "ts": _utc_now(),
            "request_id": http.headers.get("request-id") or request_id,
            "app": self.hook.app,
            "status": http.status_code,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 1),
            "stream": self.stream,
            **fields,
        }
        if self.request_text is not None:
            line["request"] = self.request_text
        self.hook.log.append(line)

    def record_error(self, http: httpx2.Response) -> None:
        """Log a 4xx/5xx response from its (already read) JSON error body."""
        try:
            body: object = json.loads(http.content)
        except Exception:  # noqa: BLE001 - a proxy's HTML page, an unread body
            body = None
        request_id = body.get("request_id") if isinstance(body, Mapping) else None
        fields = {"model": self.model, "error": _api_error(body, http.reason_phrase)}
        self._line(http, fields, request_id)

    def record_message(
        self,
        http: httpx2.Response,
        message: Mapping[str, Any] | None,
        *,
        complete: bool,
        error: object = None,
    ) -> None:
        """Log a 2xx response; `message` is None when no message was seen."""
        fields: dict[str, Any] = {}
        if message is None:
            fields["model"] = self.model
        fields["response"] = (
            None if message is None else _message_summary(message, self.hook.include_text)
        )
        if not complete:
            fields["incomplete"] = True
        if error is not None:
            fields["error"] = _api_error({"error": error}, "stream error")
        self._line(http, fields)


class _SseTally:
    """Reads server-sent events incrementally, keeping only what the log line needs.

    Lines end in LF or CRLF, as the API sends them. Events the log does not
    need (text deltas, pings) are skipped without decoding their JSON.
    """

    WANTED = frozenset({"message_start", "message_delta", "message_stop", "error"})
    TEXT = frozenset({"content_block_start", "content_block_delta", "content_block_stop"})

    def __init__(self, include_text: bool) -> None:
        self.include_text = include_text
        self.message: dict[str, Any] | None = None
        self.error: object = None
        self.complete = False
        self._wanted = self.WANTED | self.TEXT if include_text else self.WANTED
        self._partial = bytearray()
        self._event: str | None = None
        self._data: list[bytes] = []
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json_parts: dict[int, list[str]] = {}

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes of the body; only complete lines are parsed."""
        self._partial += chunk
        if b"\n" not in chunk:
            if len(self._partial) > MAX_BUFFERED_BYTES:
                raise ValueError("server-sent event line too long")
            return
        *lines, rest = bytes(self._partial).split(b"\n")
        self._partial = bytearray(rest)
        for line in lines:
            self._line(line.removesuffix(b"\r"))

    def close(self) -> None:
        """The body ended: an event without its closing blank line still counts."""
        if self._partial:
            self._line(bytes(self._partial).removesuffix(b"\r"))
            self._partial.clear()
        self._line(b"")

    def result(self) -> dict[str, Any] | None:
        """The message as far as it got, with the content blocks when text is kept."""
        if self.message is not None and self.include_text:
            self.message["content"] = [self._blocks[i] for i in sorted(self._blocks)]
        return self.message

    def _line(self, line: bytes) -> None:
        if not line:
            self._dispatch()
        elif line.startswith(b"event:"):
            self._event = line[6:].strip().decode("utf-8", "replace")
        elif line.startswith(b"data:") and (self._event is None or self._event in self._wanted):
            self._data.append(line[5:].removeprefix(b" "))

    def _dispatch(self) -> None:
        event, data = self._event, self._data
        self._event, self._data = None, []
        if not data or (event is not None and event not in self._wanted):
            return
        payload = json.loads(b"\n".join(data))
        if isinstance(payload, dict):
            self._apply(payload)

    def _apply(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "message_start":
            self._start(payload.get("message") or {})
        elif kind == "message_delta":
            self._delta(payload)
        elif kind == "message_stop":
            self.complete = True
        elif kind == "error":
            self.error = payload.get("error")
        elif self.include_text and kind in self.TEXT:
            self._content(kind, payload)

    def _start(self, message: Mapping[str, Any]) -> None:
        self.message = _message_summary(message, include_text=False)
        self.message["usage"] = dict(message.get("usage") or {})

    def _delta(self, payload: Mapping[str, Any]) -> None:
        """Merge a cumulative delta: a non-null delta key wins, as in the SDK's accumulator."""
        if self.message is None:
            self.message = {"id": None, "type": "message", "model": None, "usage": {}}
        stop_reason = (payload.get("delta") or {}).get("stop_reason")
        if stop_reason is not None:
            self.message["stop_reason"] = stop_reason
        usage = payload.get("usage") or {}
        self.message["usage"].update((k, v) for k, v in usage.items() if v is not None)

    def _content(self, kind: str, payload: Mapping[str, Any]) -> None:
        index = payload.get("index")
        if not isinstance(index, int):
            return
        if kind == "content_block_start":
            self._blocks[index] = dict(payload.get("content_block") or {})
        elif kind == "content_block_delta" and index in self._blocks:
            self._apply_delta(index, self._blocks[index], payload.get("delta") or {})
        elif kind == "content_block_stop" and index in self._json_parts:
            self._blocks[index]["input"] = json.loads("".join(self._json_parts.pop(index)) or "{}")

    def _apply_delta(self, index: int, block: dict[str, Any], delta: Mapping[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature")
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))
        elif kind == "input_json_delta":
            self._json_parts.setdefault(index, []).append(delta.get("partial_json", ""))


class _JsonTally:
    """Buffers a JSON body that the caller is streaming (`with_streaming_response`)."""

    def __init__(self, include_text: bool) -> None:
        self.include_text = include_text
        self.complete = False
        self.error: object = None
        self._body = bytearray()
        self._message: dict[str, Any] | None = None

    def feed(self, chunk: bytes) -> None:
        self._body += chunk
        if len(self._body) > MAX_BUFFERED_BYTES:
            raise ValueError("response body too large to log")

    def close(self) -> None:
        body = json.loads(self._body)
        self._body.clear()
        if isinstance(body, dict):
            self._message, self.complete = body, True

    def result(self) -> dict[str, Any] | None:
        return self._message


_Tally = _SseTally | _JsonTally


def _decompressor(encoding: str) -> Callable[[bytes], bytes] | None:
    """A decoder for the raw body bytes, which the byte stream yields still encoded."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda chunk: chunk
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress  # gzip or zlib header
    return None


class _Tap:
    """Feeds a 2xx body to its tally as it is read and logs it once, when the body ends."""

    def __init__(
        self,
        attempt: _Attempt,
        http: httpx2.Response,
        tally: _Tally,
        decode: Callable[[bytes], bytes] | None,
    ) -> None:
        self._attempt = attempt
        self._http = http
        self._tally = tally
        self._decode = decode
        self._done = False
        self._lock = threading.Lock()

    def feed(self, chunk: bytes) -> None:
        """Never raises: a body the tally cannot read is logged as incomplete."""
        if self._decode is None:
            return
        try:
            self._tally.feed(self._decode(chunk))
        except Exception:  # noqa: BLE001
            self._decode = None

    def finish(self) -> None:
        """Write the line; safe to call from the end of the body, `close()` and `__del__`."""
        with self._lock:
            if self._done:
                return
            self._done = True
        try:
            complete = self._close_tally()
            message, error = self._tally.result(), self._tally.error
            self._attempt.record_message(self._http, message, complete=complete, error=error)
        except Exception as err:  # noqa: BLE001
            self._attempt.hook.log.warn_once(err)

    def _close_tally(self) -> bool:
        """Whether the whole message was read; a body that would not parse still gets its line."""
        if self._decode is None:
            return False
        try:
            self._tally.close()
        except Exception:  # noqa: BLE001 - a truncated or malformed body
            return False
        return self._tally.complete


def _finish_on_drop(tap: _Tap) -> None:
    """Log a body dropped unread; quietly skip it while the interpreter shuts down."""
    if not sys.is_finalizing():
        with contextlib.suppress(Exception):  # nothing may escape `__del__`
            tap.finish()


class _TeeStream(httpx2.SyncByteStream):
    """A sync body that hands each chunk to a `_Tap` on its way to the caller."""

    def __init__(self, body: httpx2.SyncByteStream, tap: _Tap) -> None:
        self._body = body
        self._tap = tap

    @property
    def elapsed(self) -> timedelta | None:
        """`httpx2.Response.elapsed` reads it from `response.stream`."""
        return getattr(self._body, "elapsed", None)

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._body:
                self._tap.feed(chunk)
                yield chunk
        finally:
            self._tap.finish()

    def close(self) -> None:
        self._tap.finish()
        self._body.close()

    def __del__(self) -> None:
        # The caller may drop a stream without reading or closing it.
        _finish_on_drop(self._tap)


class _AsyncTeeStream(httpx2.AsyncByteStream):
    """An async body that hands each chunk to a `_Tap` on its way to the caller."""

    def __init__(self, body: httpx2.AsyncByteStream, tap: _Tap) -> None:
        self._async_body = body
        self._tap = tap

    @property
    def elapsed(self) -> timedelta | None:
        return getattr(self._async_body, "elapsed", None)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._async_body.__aiter__()
        try:
            async for chunk in chunks:
                self._tap.feed(chunk)
                yield chunk
        finally:
            self._tap.finish()
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:  # close a half-read generator in this task, not the loop's
                await aclose()

    async def aclose(self) -> None:
        self._tap.finish()
        await self._async_body.aclose()

    def __del__(self) -> None:
        _finish_on_drop(self._tap)


class _DualTeeStream(_TeeStream, _AsyncTeeStream):
    """For a body that is sync and async at once, as `httpx2.ByteStream` is."""

    def __init__(self, body: Any, tap: _Tap) -> None:
        _TeeStream.__init__(self, body, tap)
        _AsyncTeeStream.__init__(self, body, tap)


def _tee(
    body: httpx2.SyncByteStream | httpx2.AsyncByteStream, tap: _Tap
) -> httpx2.SyncByteStream | httpx2.AsyncByteStream:
    """The wrapper of the same kind as `body`, so that httpx2's sync/async checks still hold."""
    if not isinstance(body, httpx2.SyncByteStream):
        return _AsyncTeeStream(body, tap)
    if isinstance(body, httpx2.AsyncByteStream):
        return _DualTeeStream(body, tap)
    return _TeeStream(body, tap)


class _Hook:
    """What the sync and async middleware share: where to log, the app tag, the text policy."""

    def __init__(self, log: ApiLog, app: str | None, include_text: bool) -> None:
        self.log = log
        self.app = app
        self.include_text = include_text

    def _begin(self, request: APIRequest) -> _Attempt | None:
        """An attempt to log for POST /v1/messages, else None; never raises."""
        try:
            path = urlsplit(str(request.url)).path.rstrip("/")
            if request.method.lower() == "post" and path.endswith(MESSAGES_PATH):
                return _Attempt(self, request)
        except Exception as err:  # noqa: BLE001
            self.log.warn_once(err)
        return None

    def _observe_success(self, attempt: _Attempt, http: httpx2.Response) -> None:
        """Log a body that is already read now; wrap one still to come."""
        is_sse = http.headers.get("content-type", "").startswith("text/event-stream")
        tally: _Tally = _SseTally(self.include_text) if is_sse else _JsonTally(self.include_text)
        try:
            content = http.content
        except httpx2.ResponseNotRead:
            decode = _decompressor(http.headers.get("content-encoding", ""))
            tap = _Tap(attempt, http, tally, decode)
            http.stream = _tee(http.stream, tap)
            return
        tap = _Tap(attempt, http, tally, lambda chunk: chunk)  # `content` is already decoded
        tap.feed(content)
        tap.finish()


class _SyncHook(_Hook):
    """Middleware for `anthropic.Anthropic`: `(request, call_next) -> APIResponse`."""

    def __call__(
        self, request: APIRequest, call_next: Callable[[APIRequest], APIResponse[Any]]
    ) -> APIResponse[Any]:
        attempt = self._begin(request)
        response = call_next(request)
        http = getattr(response, "http_response", None)  # None: a later middleware answered
        if attempt is not None and isinstance(http, httpx2.Response):
            try:
                self._observe(attempt, http)
            except Exception as err:  # noqa: BLE001
                self.log.warn_once(err)
        return response

    def _observe(self, attempt: _Attempt, http: httpx2.Response) -> None:
        if http.is_success:
            self._observe_success(attempt, http)
            return
        with contextlib.suppress(Exception):  # then logged without the error's detail
            http.read()  # an error body is small; the SDK reads it again from the cache
        attempt.record_error(http)


class _AsyncHook(_Hook):
    """Middleware for `anthropic.AsyncAnthropic`: `async (request, call_next) -> response`."""

    async def __call__(
        self,
        request: APIRequest,
        call_next: Callable[[APIRequest], Awaitable[AsyncAPIResponse[Any]]],
    ) -> AsyncAPIResponse[Any]:
        attempt = self._begin(request)
        response = await call_next(request)
        http = getattr(response, "http_response", None)
        if attempt is not None and isinstance(http, httpx2.Response):
            try:
                await self._observe(attempt, http)
            except Exception as err:  # noqa: BLE001
                self.log.warn_once(err)
        return response

    async def _observe(self, attempt: _Attempt, http: httpx2.Response) -> None:
        if http.is_success:
            self._observe_success(attempt, http)
            return
        with contextlib.suppress(Exception):
            await http.aread()
        attempt.record_error(http)
