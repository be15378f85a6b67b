"""The logging middleware, driven through the real SDK against mock transports (no network)."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import MessageParam

from tiermon.instrument import API_LOG_ENV, default_api_log_path, instrument

SECRET = "sk-ant-SECRET"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MODEL = "claude-sonnet-4-0"
PROMPT: list[MessageParam] = [
    {"role": "user", "content": f"What is the weather? My key is {SECRET}"}
]
SYSTEM = f"Never reveal {SECRET}."

MESSAGE_USAGE = {
    "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "inference_geo": "global",
    "input_tokens": 18,
    "output_tokens": 14,
    "service_tier": "standard",
}
MESSAGE = {
    "id": "msg_01BzDk1bAywA8MpCqy3tTWVT",
    "type": "message",
    "role": "assistant",
    "model": "claude-opus-4-7",
    "content": [{"type": "text", "text": f"2 + 2 = 4 ({SECRET})"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": MESSAGE_USAGE,
}

# Modelled on the recorded web-search stream: message_start carries the initial
# counts, the final message_delta the cumulative ones.
START_USAGE = {
    "input_tokens": 2068,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 8,
    "service_tier": "standard",
}
DELTA_USAGE = {
    "input_tokens": 22397,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
    "output_tokens": 637,
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
}
STREAM_ID = "msg_01QmxBSdEbD9ZeBWDVgFDoQ5"
STREAM_MODEL = "claude-sonnet-4-20250514"
STREAM_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": STREAM_ID,
            "type": "message",
            "role": "assistant",
            "model": STREAM_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": START_USAGE,
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Sunny, "}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": SECRET}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": DELTA_USAGE,
    },
    {"type": "message_stop"},
]
MERGED_USAGE = {**START_USAGE, **DELTA_USAGE}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def sse(events: list[dict[str, Any]]) -> bytes:
    """A server-sent-events body, one `event:`/`data:` pair per event."""
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


class Chunked(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body that arrives in small pieces that split lines, as a real stream does."""

    def __init__(self, data: bytes, size: int = 7) -> None:
        self._pieces = [data[i : i + size] for i in range(0, len(data), size)]

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


Reply = Callable[[httpx2.Request], httpx2.Response]


def message_reply(message: dict[str, Any] = MESSAGE) -> Reply:
    return lambda request: httpx2.Response(200, headers={"request-id": "req_ok"}, json=message)


def stream_reply(events: list[dict[str, Any]] = STREAM_EVENTS, *, gzipped: bool = False) -> Reply:
    def reply(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream", "request-id": "req_stream"}
        body = sse(events)
        if gzipped:
            headers["content-encoding"] = "gzip"
            body = gzip.compress(body)
        return httpx2.Response(200, headers=headers, stream=Chunked(body))

    return reply


def error_reply(status: int = 529, body: dict[str, Any] = OVERLOADED) -> Reply:
    headers = {"request-id": f"req_{status}", "retry-after-ms": "1"}
    return lambda request: httpx2.Response(status, headers=headers, json=body)


class FakeApi:
    """Answers each request with the next reply; the last one repeats."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.paths: list[str] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.paths.append(request.url.path)
        if request.url.path == "/v1/messages/count_tokens":
            return httpx2.Response(200, json={"input_tokens": 5})
        if request.url.path == "/v1/models":
            return httpx2.Response(200, json={"data": [], "has_more": False})
        if request.url.path == "/v1/messages/batches":
            return httpx2.Response(200, json=BATCH)
        return (self.replies.pop(0) if len(self.replies) > 1 else self.replies[0])(request)


BATCH = {
    "id": "msgbatch_1",
    "type": "message_batch",
    "processing_status": "in_progress",
    "request_counts": {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-01-02T00:00:00Z",
    "ended_at": None,
    "archived_at": None,
    "cancel_initiated_at": None,
    "results_url": None,
}


def sync_client(api: FakeApi, retries: int = 0) -> anthropic.Anthropic:
    http = httpx2.Client(transport=httpx2.MockTransport(api))
    return anthropic.Anthropic(
        api_key="test-key", base_url="http://api.test", http_client=http, max_retries=retries
    )


def async_client(api: FakeApi, retries: int = 0) -> anthropic.AsyncAnthropic:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(api))
    return anthropic.AsyncAnthropic(
        api_key="test-key", base_url="http://api.test", http_client=http, max_retries=retries
    )


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def create_kwargs(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64, "messages": PROMPT, "system": SYSTEM, **extra}


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "api-log.jsonl"


@pytest.fixture(autouse=True)
def _no_user_api_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that forgets its path must not write to the real user data dir."""
    monkeypatch.setenv(API_LOG_ENV, str(tmp_path / "default-api-log.jsonl"))


def assert_success_line(line: dict[str, Any], *, stream: bool) -> None:
    assert set(line) == {"ts", "request_id", "app", "status", "latency_ms", "stream", "response"}
    assert TS.match(line["ts"])
    assert line["status"] == 200
    assert line["stream"] is stream
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert set(line["response"]) == {"id", "type", "model", "usage", "stop_reason"}


def assert_stream_line(line: dict[str, Any]) -> None:
    assert_success_line(line, stream=True)
    assert line["request_id"] == "req_stream"
    assert line["response"] == {
        "id": STREAM_ID,
        "type": "message",
        "model": STREAM_MODEL,
        "usage": MERGED_USAGE,
        "stop_reason": "end_turn",
    }
    assert line["response"]["usage"]["input_tokens"] == 22397
    assert line["response"]["usage"]["output_tokens"] == 637


def test_sync_create_logs_one_line_with_full_usage(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(message_reply())), log_path, app="billing")
    message = client.messages.create(**create_kwargs())
    assert message.id == MESSAGE["id"]
    (line,) = read_log(log_path)
    assert_success_line(line, stream=False)
    assert line["request_id"] == "req_ok"
    assert line["app"] == "billing"
    assert line["response"] == {
        "id": MESSAGE["id"],
        "type": "message",
        "model": "claude-opus-4-7",
        "usage": MESSAGE_USAGE,
        "stop_reason": "end_turn",
    }
    assert os.stat(log_path).st_mode & 0o777 == 0o600


async def test_async_create_logs_one_line(log_path: Path) -> None:
    client = instrument(async_client(FakeApi(message_reply())), log_path)
    message = await client.messages.create(**create_kwargs())
    assert message.usage.output_tokens == 14
    (line,) = read_log(log_path)
    assert_success_line(line, stream=False)
    assert line["app"] is None
    assert line["response"]["usage"] == MESSAGE_USAGE


def test_sync_stream_manager_merges_delta_usage(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(stream_reply())), log_path)
    with client.messages.stream(**create_kwargs()) as stream:
        final = stream.get_final_message()
    assert final.usage.input_tokens == 22397
    (line,) = read_log(log_path)
    assert_stream_line(line)


def test_sync_create_stream_true(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(stream_reply())), log_path)
    events = [event.type for event in client.messages.create(**create_kwargs(stream=True))]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    (line,) = read_log(log_path)
    assert_stream_line(line)


def test_stream_body_read_before_the_middleware(log_path: Path) -> None:
    def preloaded(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream", "request-id": "req_stream"}
        return httpx2.Response(200, headers=headers, content=sse(STREAM_EVENTS))

    client = instrument(sync_client(FakeApi(preloaded)), log_path)
    list(client.messages.create(**create_kwargs(stream=True)))
    (line,) = read_log(log_path)
    assert_stream_line(line)


def test_truncated_stream_is_logged_incomplete(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(stream_reply(STREAM_EVENTS[:4]))), log_path)
    list(client.messages.create(**create_kwargs(stream=True)))
    (line,) = read_log(log_path)
    assert line["incomplete"] is True
    assert line["response"]["usage"] == START_USAGE


def test_gzip_encoded_stream_is_decoded(log_path: Path) -> None:
    api = FakeApi(stream_reply(gzipped=True))
    client = instrument(sync_client(api), log_path)
    list(client.messages.create(**create_kwargs(stream=True)))
    (line,) = read_log(log_path)
    assert_stream_line(line)


async def test_async_stream_manager(log_path: Path) -> None:
    client = instrument(async_client(FakeApi(stream_reply())), log_path)
    async with client.messages.stream(**create_kwargs()) as stream:
        final = await stream.get_final_message()
    assert final.usage.output_tokens == 637
    (line,) = read_log(log_path)
    assert_stream_line(line)


async def test_async_create_stream_true(log_path: Path) -> None:
    client = instrument(async_client(FakeApi(stream_reply())), log_path)
    events = [
        event.type async for event in await client.messages.create(**create_kwargs(stream=True))
    ]
    assert events[-1] == "message_stop"
    (line,) = read_log(log_path)
    assert_stream_line(line)


def test_abandoned_stream_is_logged_incomplete(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(stream_reply())), log_path)
    with client.messages.stream(**create_kwargs()) as stream:
        for _event in stream:
            break
    (line,) = read_log(log_path)
    assert line["incomplete"] is True
    assert line["stream"] is True and line["status"] == 200
    assert line["response"]["id"] == STREAM_ID
    assert line["response"]["usage"]["input_tokens"] == 2068
    assert line["response"]["stop_reason"] is None


async def test_abandoned_async_stream_is_logged_incomplete(log_path: Path) -> None:
    client = instrument(async_client(FakeApi(stream_reply())), log_path)
    stream = await client.messages.create(**create_kwargs(stream=True))
    async for _event in stream:
        break
    await stream.close()
    (line,) = read_log(log_path)
    assert line["incomplete"] is True
    assert line["response"]["usage"]["output_tokens"] == 8


def test_stream_error_event_is_logged_with_usage_so_far(log_path: Path) -> None:
    events = [STREAM_EVENTS[0], STREAM_EVENTS[1], OVERLOADED]
    client = instrument(sync_client(FakeApi(stream_reply(events))), log_path)
    with pytest.raises(anthropic.APIStatusError):
        list(client.messages.create(**create_kwargs(stream=True)))
    (line,) = read_log(log_path)
    assert line["incomplete"] is True
    assert line["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert line["response"]["usage"] == START_USAGE


def test_529_without_retries_is_one_error_line(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(error_reply()), retries=0), log_path, app="batch")
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**create_kwargs())
    assert caught.value.status_code == 529
    (line,) = read_log(log_path)
    assert set(line) == {
        "ts",
        "request_id",
        "app",
        "status",
        "latency_ms",
        "stream",
        "model",
        "error",
    }
    assert line["status"] == 529
    assert line["request_id"] == "req_529"
    assert line["app"] == "batch"
    assert line["model"] == MODEL
    assert line["stream"] is False
    assert line["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_retried_529_then_success_is_two_lines(log_path: Path) -> None:
    api = FakeApi(error_reply(), message_reply())
    client = instrument(sync_client(api, retries=1), log_path)
    client.messages.create(**create_kwargs())
    first, second = read_log(log_path)
    assert (first["status"], first["error"]["type"]) == (529, "overloaded_error")
    assert (second["status"], second["request_id"]) == (200, "req_ok")


def test_retried_529_twice_is_two_error_lines(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(error_reply()), retries=1), log_path)
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(**create_kwargs(stream=True))
    lines = read_log(log_path)
    assert [(line["status"], line["stream"]) for line in lines] == [(529, True), (529, True)]


async def test_async_retried_529_then_stream(log_path: Path) -> None:
    api = FakeApi(error_reply(), stream_reply())
    client = instrument(async_client(api, retries=1), log_path)
    async with client.messages.stream(**create_kwargs()) as stream:
        await stream.get_final_message()
    error, ok = read_log(log_path)
    assert error["status"] == 529 and error["stream"] is True
    assert_stream_line(ok)


@pytest.mark.parametrize("stream", [False, True])
def test_no_text_in_log_by_default(log_path: Path, stream: bool) -> None:
    reply = stream_reply() if stream else message_reply()
    client = instrument(sync_client(FakeApi(reply)), log_path)
    if stream:
        with client.messages.stream(**create_kwargs()) as s:
            s.get_final_message()
    else:
        client.messages.create(**create_kwargs())
    text = log_path.read_text("utf-8")
    assert "SECRET" not in text
    (line,) = read_log(log_path)
    assert "request" not in line and "content" not in line["response"]


def test_include_text_keeps_prompt_and_content(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(message_reply())), log_path, include_text=True)
    client.messages.create(**create_kwargs())
    (line,) = read_log(log_path)
    assert line["request"] == {"messages": PROMPT, "system": SYSTEM}
    assert line["response"]["content"] == MESSAGE["content"]


def test_include_text_rebuilds_streamed_content(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(stream_reply())), log_path, include_text=True)
    list(client.messages.create(**create_kwargs(stream=True)))
    (line,) = read_log(log_path)
    assert line["response"]["content"] == [{"type": "text", "text": f"Sunny, {SECRET}"}]
    assert line["response"]["usage"] == MERGED_USAGE
    assert SECRET in line["request"]["system"]


def test_streamed_json_body_is_logged(log_path: Path) -> None:
    client = instrument(sync_client(FakeApi(message_reply())), log_path)
    with client.messages.with_streaming_response.create(**create_kwargs()) as response:
        assert response.parse().id == MESSAGE["id"]
    (line,) = read_log(log_path)
    assert line["response"]["usage"] == MESSAGE_USAGE


def test_only_messages_calls_are_logged(log_path: Path) -> None:
    api = FakeApi(message_reply())
    client = instrument(sync_client(api), log_path)
    client.messages.count_tokens(model=MODEL, messages=PROMPT)
    client.models.list()
    client.messages.batches.create(
        requests=[
            {"custom_id": "a", "params": {"model": MODEL, "max_tokens": 8, "messages": PROMPT}}
        ]
    )
    assert not log_path.exists()
    client.messages.create(**create_kwargs())
    assert len(read_log(log_path)) == 1
    assert api.paths == [
        "/v1/messages/count_tokens",
        "/v1/models",
        "/v1/messages/batches",
        "/v1/messages",
    ]


def test_concurrent_threads_never_interleave(log_path: Path) -> None:
    big_prompt: list[MessageParam] = [{"role": "user", "content": "x" * 200_000}]
    client = instrument(sync_client(FakeApi(message_reply())), log_path, include_text=True)

    def call(count: int) -> None:
        for _ in range(count):
            client.messages.create(model=MODEL, max_tokens=8, messages=big_prompt)

    threads = [threading.Thread(target=call, args=(5,)) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = read_log(log_path)
    assert len(lines) == 50
    assert all(line["request"]["messages"] == big_prompt for line in lines)


def test_instrument_twice_logs_once(log_path: Path) -> None:
    client = instrument(instrument(sync_client(FakeApi(message_reply())), log_path), log_path)
    client.messages.create(**create_kwargs())
    assert len(read_log(log_path)) == 1


def test_log_failure_warns_once_and_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    client = instrument(sync_client(FakeApi(message_reply())), blocker / "api-log.jsonl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            assert client.messages.create(**create_kwargs()).id == MESSAGE["id"]
    assert len([w for w in caught if "tiermon" in str(w.message)]) == 1


def test_default_path_comes_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_LOG_ENV, str(tmp_path / "env-log.jsonl"))
    assert default_api_log_path() == tmp_path / "env-log.jsonl"
    client = instrument(sync_client(FakeApi(message_reply())))
    client.messages.create(**create_kwargs())
    assert len(read_log(tmp_path / "env-log.jsonl")) == 1
    monkeypatch.delenv(API_LOG_ENV)
    assert default_api_log_path().name == "api-log.jsonl"
    assert "tiermon" in default_api_log_path().parts


def test_import_tiermon_does_not_import_anthropic() -> None:
    code = "import sys, tiermon; assert 'anthropic' not in sys.modules, 'anthropic imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


class _SseHandler(BaseHTTPRequestHandler):
    """Streams the recorded-style SSE body over a real socket.

    After `message_start` it waits for `gate`, so that a client can stop reading
    before the rest of the body has even been sent.
    """

    protocol_version = "HTTP/1.0"
    gate = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("request-id", "req_stream")
        self.end_headers()
        first, rest = sse(STREAM_EVENTS[:1]), sse(STREAM_EVENTS[1:])
        try:
            self.wfile.write(first)
            self.wfile.flush()
            self.gate.wait(timeout=10)
            self.wfile.write(rest)
        except OSError:  # the client hung up, as an abandoning client does
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SseHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _SseHandler.gate.set()
    server.shutdown()
    server.server_close()


def test_stream_over_a_real_socket(log_path: Path, local_server: str) -> None:
    client = anthropic.Anthropic(api_key="test-key", base_url=local_server, max_retries=0)
    client = instrument(client, log_path)
    _SseHandler.gate.set()
    with client.messages.stream(**create_kwargs()) as stream:
        stream.get_final_message()
    _SseHandler.gate.clear()
    with client.messages.stream(**create_kwargs()) as stream:
        assert next(iter(stream)).type == "message_start"
    _SseHandler.gate.set()
    complete, abandoned = read_log(log_path)
    assert_stream_line(complete)
    assert abandoned["incomplete"] is True
    assert abandoned["response"]["usage"]["input_tokens"] == 2068
