"""API log ingest: real recordings, batch results, the real middleware, the samples and the CLI.

The recordings are the VCR cassettes in the shared corpus, read here with a
small YAML reader (PyYAML is not a dependency) and written to a temporary log
as the shapes tiermon accepts; nothing from the corpus is copied into the repo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

import tiermon.samples
from conftest import CliResult
from tiermon.ingest.config import load_settings
from tiermon.ingest.pricing import load_price_table
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.sources.api_log import merge_stream, parse_api_chunk
from tiermon.ingest.store import Store
from tiermon.instrument import instrument
from transcripts import assistant, write

PRICES = load_price_table()
SAMPLES_API = Path(tiermon.samples.__file__).parent / "api"

Json = dict[str, Any]


def ingest(tmp_path: Path, db: Path, *logs: Path) -> None:
    """One ingest pass over API logs only (an empty transcript folder replaces discovery)."""
    empty = tmp_path / "no-transcripts"
    empty.mkdir(exist_ok=True)
    Ingestor(load_settings(db=db, sources=[empty], api_logs=list(logs))).run()


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[Json]:
    with Store.open(db, read_only=True) as store:
        return store.query_dicts(sql, params)


def responses(db: Path) -> dict[str, Json]:
    """Stored response rows by message id."""
    return {r["message_id"]: r for r in query(db, "SELECT * FROM responses")}


def api_errors(db: Path) -> list[Json]:
    return query(db, "SELECT * FROM events WHERE kind = 'api_error' ORDER BY line_offset")


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), "utf-8")
    return path


def list_price(row: Json) -> float | None:
    """What pricing.py says one stored row costs, computed independently of the SQL."""
    return PRICES.cost(
        row["model"], input_tokens=row["input_tokens"], output_tokens=row["output_tokens"],
        cache_read=row["cache_read_tokens"], write_5m=row["cache_write_5m_tokens"],
        write_1h=row["cache_write_1h_tokens"], speed=row["speed"], geo=row["inference_geo"], batch=row["is_batch"],
    )  # fmt: skip


def usage(inp: int, out: int, *, read: int = 0, w5: int = 0, tier: str | None = "standard") -> Json:
    u: Json = {"input_tokens": inp, "cache_creation_input_tokens": w5, "cache_read_input_tokens": read,
               "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": 0},
               "output_tokens": out, "inference_geo": "global"}  # fmt: skip
    if tier is not None:
        u["service_tier"] = tier
    return u


def message(msg_id: str, model: str, u: Json) -> Json:
    return {"id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "usage": u}  # fmt: skip


# -- the real recordings -------------------------------------------------------------


def sse_events(body: str) -> list[Json]:
    """The JSON payloads of a text/event-stream body, in order."""
    events = []
    for block in re.split(r"\r?\n\r?\n", body):
        data = [line[5:].lstrip(" ") for line in block.splitlines() if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def cassette_lines(folder: Path) -> Iterator[Json]:
    """Each recorded response as an API log line: JSON bodies bare, streams as their event list."""
    for path in sorted(folder.glob("*.yaml")):
        for interaction in load_yaml(path.read_text("utf-8"))["interactions"]:
            response = interaction["response"]
            if "parsed_body" in response:
                yield response["parsed_body"]
            else:
                events = sse_events(response["body"]["string"])
                yield {"ts": "2025-09-16T18:00:00Z", "app": "cassettes", "events": events}


def test_cassettes_ingest_with_their_recorded_usage(corpus: Path, tmp_path: Path, db: Path) -> None:
    lines = list(cassette_lines(corpus / "anthropic-api-cassettes"))
    (stream,) = [line for line in lines if "events" in line]
    assert stream["events"][0]["message"]["usage"]["input_tokens"] == 2068  # what message_start said
    log = write_lines(tmp_path / "logs" / "cassettes.jsonl", lines)
    ingest(tmp_path, db, log)
    rows = responses(db)
    figures = {
        mid: (r["model"], r["tier"], r["input_tokens"], r["output_tokens"], r["cache_read_tokens"],
              r["cache_write_5m_tokens"], r["web_search_requests"])
        for mid, r in rows.items()
    }  # fmt: skip
    assert figures == {
        "msg_01BzDk1bAywA8MpCqy3tTWVT": ("claude-opus-4-7", "opus", 18, 14, 0, 0, 0),
        "msg_01UUPT9QdZnZSRzcQJkjG25U": ("claude-sonnet-4-5-20250929", "sonnet", 3, 406, 1111, 0, 0),
        "msg_01KPaKTJSqAKoZri7Ujrny58": ("claude-sonnet-4-5-20250929", "sonnet", 3, 33, 1111, 418, 0),
        "msg_011S3wxtqL5CVescWqS3zeg2": ("claude-haiku-4-5-20251001", "haiku", 423, 202, 0, 0, 0),
        "msg_01JVqZPgDwmnyb2kKC3MwCVf": ("claude-haiku-4-5-20251001", "haiku", 771, 77, 0, 0, 0),
        "msg_01QmxBSdEbD9ZeBWDVgFDoQ5": ("claude-sonnet-4-20250514", "sonnet", 22397, 637, 0, 0, 2),
    }
    streamed = rows["msg_01QmxBSdEbD9ZeBWDVgFDoQ5"]
    assert streamed["ts"] == datetime(2025, 9, 16, 18, 0)
    assert streamed["stop_reason"] == "end_turn"
    assert streamed["cost_usd"] == pytest.approx((22397 * 3 + 637 * 15) / 1e6)  # $0.076746
    assert rows["msg_01BzDk1bAywA8MpCqy3tTWVT"]["cost_usd"] == pytest.approx((18 * 5 + 14 * 25) / 1e6)
    cached = rows["msg_01KPaKTJSqAKoZri7Ujrny58"]
    assert cached["cost_usd"] == pytest.approx((3 * 3 + 33 * 15 + 418 * 3.75 + 1111 * 0.30) / 1e6)
    assert cached["inference_geo"] == "not_available"
    for row in rows.values():
        assert row["source_kind"] == "api" and row["priced"]
        assert row["cost_usd"] == pytest.approx(list_price(row))
        assert row["k"] == f"{row['message_id']}:"  # the cassettes dropped the request-id header
    assert {r["project"] for r in rows.values()} == {"cassettes"}
    assert {r["session_id"] for r in rows.values()} == {"api:cassettes"}
    assert query(db, "SELECT count(*) AS n FROM quarantine")[0]["n"] == 0


def test_yaml_reader_keeps_block_and_quoted_scalars(corpus: Path) -> None:
    data = load_yaml((corpus / "anthropic-api-cassettes" / "test_multiple_parallel_tool_calls.yaml").read_text("utf-8"))
    first = data["interactions"][0]
    assert first["request"]["parsed_body"]["system"].startswith("\n    Use the `retrieve_entity_info` tool")
    assert first["request"]["headers"]["content-length"] == ["778"]
    assert first["response"]["status"] == {"code": 200, "message": "OK"}
    second = data["interactions"][1]["response"]["parsed_body"]["content"][0]["text"]
    assert second.startswith("Based on the retrieved information") and "\n- Alice and Bob are married\n" in second
    assert load_yaml("a: |+\n  x\n\nb: 'it''s'\nc:\n- 1\n- null\n...\n") == {"a": "x\n\n", "b": "it's", "c": [1, None]}


# -- shapes, times, keys -------------------------------------------------------------


def test_bare_line_keeps_the_time_it_was_first_ingested(tmp_path: Path, db: Path) -> None:
    log = write_lines(tmp_path / "logs" / "chatbot.jsonl", [message("msg_bare1", "claude-haiku-4-5", usage(100, 10))])
    before = datetime.now(UTC).replace(tzinfo=None)
    ingest(tmp_path, db, log)
    first = responses(db)["msg_bare1"]
    assert before <= first["ts"] <= datetime.now(UTC).replace(tzinfo=None)
    assert (first["session_id"], first["project"]) == ("api:chatbot", "chatbot")
    # A rewritten file (new first bytes) is read again from 0: the row keeps its time.
    write_lines(log, [
        "",
        message("msg_bare1", "claude-haiku-4-5", usage(100, 10)),
        message("msg_bare2", "claude-haiku-4-5", usage(100, 10)),
    ])  # fmt: skip
    ingest(tmp_path, db, log)
    rows = responses(db)
    assert set(rows) == {"msg_bare1", "msg_bare2"}
    assert rows["msg_bare1"]["ts"] == first["ts"]
    assert rows["msg_bare2"]["ts"] > first["ts"]


def test_wrapped_line_takes_its_time_app_and_request_id(tmp_path: Path, db: Path) -> None:
    log = write_lines(tmp_path / "api.jsonl", [
        {"ts": "2026-03-02T10:15:00.250+01:00", "request_id": "req_1", "app": "checkout",
         "response": message("msg_w1", "claude-sonnet-4-6", usage(1000, 100, read=500, w5=200))},
        {"ts": 1772445600, "request_id": "req_2", "response": message("msg_w2", "claude-opus-4-6", usage(10, 1))},
    ])  # fmt: skip
    ingest(tmp_path, db, log)
    rows = responses(db)
    one, two = rows["msg_w1"], rows["msg_w2"]
    assert (one["k"], one["ts"], one["project"], one["session_id"]) == (
        "msg_w1:req_1", datetime(2026, 3, 2, 9, 15, 0, 250000), "checkout", "api:checkout")
    assert (one["cache_read_tokens"], one["cache_write_5m_tokens"], one["request_id"]) == (500, 200, "req_1")
    assert (two["ts"], two["project"]) == (datetime(2026, 3, 2, 10, 0), "api")  # epoch seconds; app from the file name


def test_recorded_stream_merges_final_delta_over_message_start() -> None:
    events = [
        {"type": "message_start", "message": {"id": "msg_s", "model": "claude-sonnet-4-5", "stop_reason": None,
                                              "usage": usage(2068, 8, read=100)}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 300}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"input_tokens": 22397, "output_tokens": 637, "cache_read_input_tokens": None,
                   "server_tool_use": {"web_search_requests": 2}}},
        {"type": "message_stop"},
    ]  # fmt: skip
    merged = merge_stream(events)
    assert (merged["id"], merged["model"], merged["stop_reason"]) == ("msg_s", "claude-sonnet-4-5", "end_turn")
    assert merged["usage"]["input_tokens"] == 22397 and merged["usage"]["output_tokens"] == 637
    assert merged["usage"]["cache_read_input_tokens"] == 100  # a null in the delta keeps the earlier count
    assert merged["usage"]["server_tool_use"] == {"web_search_requests": 2}


def test_batch_results_are_discounted_and_failures_are_api_errors(tmp_path: Path, db: Path) -> None:
    u = usage(600, 40, tier="batch")
    log = write_lines(tmp_path / "batches" / "triage.jsonl", [
        {"custom_id": "t-1", "result": {"type": "succeeded", "message": message("msg_b1", "claude-sonnet-4-5", u)}},
        {"custom_id": "t-2", "result": {"type": "succeeded",
                                        "message": message("msg_b2", "claude-sonnet-4-5", usage(600, 40, tier=None))}},
        {"custom_id": "t-3", "result": {"type": "errored", "error": {"type": "error", "error": {
            "type": "invalid_request_error", "message": "max_tokens: must be at least 1"}}}},
        {"custom_id": "t-4", "result": {"type": "canceled"}},
        {"custom_id": "t-5", "result": {"type": "expired"}},
    ])  # fmt: skip
    ingest(tmp_path, db, log)
    rows = responses(db)
    full = PRICES.cost("claude-sonnet-4-5", input_tokens=600, output_tokens=40)
    assert full is not None and full == pytest.approx((600 * 3 + 40 * 15) / 1e6)
    for mid in ("msg_b1", "msg_b2"):
        assert rows[mid]["is_batch"] and rows[mid]["service_tier"] == "batch"
        assert rows[mid]["cost_usd"] == pytest.approx(full * 0.5)
    errors = api_errors(db)
    assert [(e["subtype"], e["message_id"], e["session_id"]) for e in errors] == [
        ("errored", "t-3", "api:triage"), ("canceled", "t-4", "api:triage"), ("expired", "t-5", "api:triage")]
    assert errors[0]["text"] == "errored: batch request t-3: invalid_request_error: max_tokens: must be at least 1"
    assert all(e["is_error"] for e in errors)


def test_bad_lines_are_quarantined_and_the_rest_is_read(tmp_path: Path, db: Path) -> None:
    good = message("msg_ok", "claude-haiku-4-5", usage(5, 5))
    log = write_lines(tmp_path / "api.jsonl", [
        "{not json",
        "[1, 2]",
        {"hello": "world"},
        {"type": "message", "id": "msg_nousage", "model": "claude-haiku-4-5"},
        {"type": "message", "id": "msg_badusage", "model": "claude-haiku-4-5", "usage": {"input_tokens": "many"}},
        {"custom_id": "x", "result": {"type": "mystery"}},
        {"ts": "2026-01-01T00:00:00Z", "response": "a string"},
        good,
    ])  # fmt: skip
    ingest(tmp_path, db, log)
    assert set(responses(db)) == {"msg_ok"}
    reasons = [r["reason"] for r in query(db, "SELECT reason FROM quarantine ORDER BY line_offset")]
    assert len(reasons) == 7
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1:4] == ["not a JSON object", "not an API response, batch result or middleware line",
                            "response without usage"]  # fmt: skip
    assert reasons[4].startswith("bad token count")
    assert reasons[5] == "batch result of unknown type 'mystery'"


def test_parser_alone_returns_a_batch_with_offsets() -> None:
    line = json.dumps(message("msg_p", "claude-opus-4-6", usage(1, 2))).encode()
    batch = parse_api_chunk(b"junk\n" + line + b"\n", 100, "/logs/app.jsonl", None)
    assert batch.lines == 2 and batch.response_count == 1
    assert batch.responses["line_offset"] == [105]
    assert batch.quarantine[0][:2] == (100, 4)
    assert batch.entry_types == {}  # API lines are not transcript entry types


# -- tiermon's own middleware, driven through the real SDK ------------------------------


def _sse(events: list[Json]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def _stream_events(msg_id: str, start: Json, delta: Json | None, *, stop: bool = True) -> list[Json]:
    events: list[Json] = [
        {"type": "message_start", "message": {"id": msg_id, "type": "message", "role": "assistant",
                                              "model": "claude-sonnet-4-20250514", "content": [],
                                              "stop_reason": None, "stop_sequence": None, "usage": start}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Sunny"}},
    ]  # fmt: skip
    if delta is not None:
        events += [{"type": "content_block_stop", "index": 0},
                   {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": delta}]  # fmt: skip
    if stop:
        events.append({"type": "message_stop"})
    return events


class _Api:
    """Answers POST /v1/messages with the next reply."""

    def __init__(self, *replies: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.replies = list(replies)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        return self.replies.pop(0)(request)


def _json_reply(body: Json, status: int = 200, request_id: str = "req_json") -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda request: httpx2.Response(status, headers={"request-id": request_id}, json=body)


def _sse_reply(events: list[Json], request_id: str) -> Callable[[httpx2.Request], httpx2.Response]:
    headers = {"content-type": "text/event-stream", "request-id": request_id}
    return lambda request: httpx2.Response(200, headers=headers, content=_sse(events))


def test_middleware_log_written_by_the_real_sdk(tmp_path: Path, db: Path) -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    start = usage(2068, 8)
    api = _Api(
        _json_reply(message("msg_mw_create", "claude-opus-4-7", usage(18, 14))),
        _sse_reply(_stream_events("msg_mw_stream", start, {"input_tokens": 22397, "output_tokens": 637,
                                  "server_tool_use": {"web_search_requests": 2}}), "req_stream"),
        _json_reply(overloaded, status=529, request_id="req_529"),
        _sse_reply([*_stream_events("msg_mw_broken", usage(500, 3), None, stop=False), overloaded], "req_broken"),
        _sse_reply(_stream_events("msg_mw_cut", usage(700, 2), None, stop=False), "req_cut"),
    )  # fmt: skip
    http = httpx2.Client(transport=httpx2.MockTransport(api))
    sdk = anthropic.Anthropic(api_key="test-key", base_url="http://api.test", http_client=http, max_retries=0)
    log = tmp_path / "logs" / "middleware.jsonl"
    client = instrument(sdk, log, app="evals")
    ask: Json = {"model": "claude-sonnet-4-0", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    client.messages.create(**ask)
    with client.messages.stream(**ask) as stream:
        assert stream.get_final_message().usage.input_tokens == 22397
    with pytest.raises(anthropic.APIStatusError):
        client.messages.create(**ask)
    with pytest.raises(anthropic.APIStatusError):
        list(client.messages.create(**ask, stream=True))
    list(client.messages.create(**ask, stream=True))  # ends without message_stop
    assert len(log.read_text("utf-8").splitlines()) == 5

    ingest(tmp_path, db, log.parent)
    rows = responses(db)
    assert set(rows) == {"msg_mw_create", "msg_mw_stream", "msg_mw_broken", "msg_mw_cut"}
    streamed = rows["msg_mw_stream"]
    assert (streamed["input_tokens"], streamed["output_tokens"], streamed["web_search_requests"]) == (22397, 637, 2)
    assert streamed["k"] == "msg_mw_stream:req_stream"
    assert (rows["msg_mw_broken"]["input_tokens"], rows["msg_mw_cut"]["input_tokens"]) == (500, 700)  # incomplete: counted
    assert {(r["project"], r["session_id"], r["tier"]) for r in rows.values()} == {
        ("evals", "api:evals", "opus"), ("evals", "api:evals", "sonnet")}
    now = datetime.now(UTC).replace(tzinfo=None)
    assert all(now - timedelta(minutes=5) < r["ts"] <= now for r in rows.values())
    for row in rows.values():
        assert row["cost_usd"] == pytest.approx(list_price(row))
    errors = api_errors(db)
    assert [(e["k"], e["name"], e["subtype"], e["model"]) for e in errors] == [
        ("api:req_529", "529", "overloaded_error", "claude-sonnet-4-0"),
        ("api:req_broken", "200", "overloaded_error", "claude-sonnet-4-20250514"),
    ]
    assert errors[0]["text"] == "529 overloaded_error: Overloaded"
    assert errors[0]["session_id"] == "api:evals"


def test_middleware_line_without_a_message(tmp_path: Path, db: Path) -> None:
    log = write_lines(tmp_path / "mw.jsonl", [
        {"ts": "2026-05-01T00:00:00Z", "request_id": "req_n", "app": None, "status": 200, "latency_ms": 5.0,
         "stream": True, "model": "claude-haiku-4-5", "response": None, "incomplete": True},
        {"ts": "2026-05-01T00:00:01Z", "request_id": None, "app": "x", "status": 500, "latency_ms": 5.0,
         "stream": False, "model": "claude-haiku-4-5", "error": {"type": None, "message": "Internal Server Error"}},
    ])  # fmt: skip
    ingest(tmp_path, db, log)
    assert responses(db) == {}
    errors = api_errors(db)
    assert [(e["subtype"], e["name"], e["session_id"], e["ts"]) for e in errors] == [
        ("incomplete", "200", "api:mw", datetime(2026, 5, 1)),
        ("http_500", "500", "api:x", datetime(2026, 5, 1, 0, 0, 1)),
    ]


# -- the bundled samples -------------------------------------------------------------


def _sample_lines() -> list[Json]:
    return [json.loads(line) for path in sorted(SAMPLES_API.glob("*.jsonl")) for line in path.read_text("utf-8").splitlines()]


def test_bundled_api_samples(tmp_path: Path, db: Path) -> None:
    lines = _sample_lines()
    ingest(tmp_path, db, SAMPLES_API)
    rows = responses(db)
    expected_ids = {(line.get("response") or line.get("result", {}).get("message") or line).get("id") for line in lines}
    assert set(rows) == expected_ids - {None}
    assert query(db, "SELECT count(*) AS n FROM quarantine")[0]["n"] == 0
    failures = [line for line in lines if "error" in line or line.get("result", {}).get("type", "succeeded") != "succeeded"]
    assert len(api_errors(db)) == len(failures) >= 2
    batch_ids = {line["result"]["message"]["id"] for line in lines if line.get("result", {}).get("type") == "succeeded"}
    assert batch_ids and all(rows[i]["is_batch"] and rows[i]["project"] == "batch-results" for i in batch_ids)
    apps = {line["app"] for line in lines if line.get("app")}
    assert apps <= {r["project"] for r in rows.values()}
    for row in rows.values():
        assert row["cost_usd"] == pytest.approx(list_price(row))


# -- the CLI ---------------------------------------------------------------------------

SESSION = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


def _report(tiermon: Callable[..., CliResult], db: Path, source: Path, log: Path, *args: str) -> Json:
    result = tiermon("--db", str(db), "--source", str(source), "--api-log", str(log), "report", *args, "--json")
    data: Json = json.loads(result.stdout)
    return data


def test_api_traffic_is_its_own_source_in_report_model(tiermon: Callable[..., CliResult], tmp_path: Path) -> None:
    same = usage(1200, 80, read=2048)
    log = write_lines(tmp_path / "api-logs" / "shop.jsonl", [
        {"ts": "2026-03-02T10:00:00Z", "request_id": "req_a1", "app": "checkout",
         "response": message("msg_a1", "claude-haiku-4-5-20251001", same)},
        {"ts": "2026-03-02T10:05:00Z", "request_id": "req_a2", "app": "checkout",
         "response": message("msg_a2", "claude-sonnet-4-5-20250929", usage(3000, 400, w5=1000))},
        {"ts": "2026-03-02T10:09:00Z", "request_id": "req_a3", "app": "checkout",
         "response": message("msg_a3", "claude-opus-4-6", usage(500, 900))},
    ])  # fmt: skip
    empty = tmp_path / "empty"
    empty.mkdir()
    only_api = _report(tiermon, tmp_path / "a.duckdb", empty, log, "model")
    models = {m["model"]: m for m in only_api["models"]}
    assert {m: r["tier"] for m, r in models.items()} == {
        "claude-haiku-4-5-20251001": "haiku", "claude-sonnet-4-5-20250929": "sonnet", "claude-opus-4-6": "opus"}
    expected = {
        "claude-haiku-4-5-20251001": PRICES.cost("claude-haiku-4-5", input_tokens=1200, output_tokens=80, cache_read=2048),
        "claude-sonnet-4-5-20250929": PRICES.cost("claude-sonnet-4-5", input_tokens=3000, output_tokens=400, write_5m=1000),
        "claude-opus-4-6": PRICES.cost("claude-opus-4-6", input_tokens=500, output_tokens=900),
    }  # fmt: skip
    for model, cost in expected.items():
        assert models[model]["cost_usd"] == pytest.approx(cost, abs=1e-6) and models[model]["priced"]  # reports round to 6 places
    assert only_api["totals"]["cost_usd"] == pytest.approx(sum(c or 0 for c in expected.values()), abs=1e-6)

    # Beside a transcript with the same model and usage: one more source, the same price.
    claude = tmp_path / "claude"
    write(claude / "projects" / "-home-dev-shop" / f"{SESSION}.jsonl",
          [assistant(SESSION, "u1", 0, "msg_t1", "req_t1", "claude-haiku-4-5-20251001", same)])  # fmt: skip
    db = tmp_path / "both.duckdb"
    both = {m["model"]: m for m in _report(tiermon, db, claude, log, "model")["models"]}
    api = {m["model"]: m for m in _report(tiermon, db, claude, log, "model", "--source-kind", "api")["models"]}
    cc = {m["model"]: m for m in _report(tiermon, db, claude, log, "model", "--source-kind", "claude")["models"]}
    haiku = "claude-haiku-4-5-20251001"
    assert both[haiku]["requests"] == 2 and api[haiku]["requests"] == 1 and cc[haiku]["requests"] == 1
    assert set(api) == set(expected) and set(cc) == {haiku}
    assert api[haiku]["tier"] == cc[haiku]["tier"] == "haiku"
    assert api[haiku]["cost_usd"] == cc[haiku]["cost_usd"] == pytest.approx(expected[haiku], abs=1e-6)
    sessions = _report(tiermon, db, claude, log, "session", "--source-kind", "api")["sessions"]
    assert [(s["session_id"], s["project"]) for s in sessions] == [("api:checkout", "checkout")]
    assert sessions[0]["cost_usd"] == pytest.approx(only_api["totals"]["cost_usd"], abs=1e-6)


# -- a YAML reader for VCR cassettes ---------------------------------------------------------

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "t": "\t", "\t": "\t", "n": "\n", "v": "\v", "f": "\f",
                   "r": "\r", "e": "\x1b", " ": " ", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
                   "L": "\u2028", "P": "\u2029"}  # fmt: skip


def load_yaml(text: str) -> Any:
    """Just enough block-style YAML for VCR cassettes (yaml is not a dependency)."""
    parser = _Yaml(text.split("\n"))
    head = parser.peek()
    return None if head is None else parser.node(head[0])


class _Yaml:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0

    def peek(self) -> tuple[int, str] | None:
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.rstrip() == "...":  # end of the document
                self.i = len(self.lines)
                return None
            if raw.strip() and not raw.lstrip().startswith("#") and raw.rstrip() != "---":
                body = raw.lstrip(" ")
                return len(raw) - len(body), body
            self.i += 1
        return None

    def node(self, indent: int) -> Any:
        head = self.peek()
        assert head is not None and head[0] == indent
        return self.sequence(indent) if _is_item(head[1]) else self.mapping(indent)

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while (head := self.peek()) and head[0] == indent and _is_item(head[1]):
            rest = head[1][1:].lstrip(" ")
            if not rest:
                self.i += 1
                items.append(self.child(indent, allow_same=False))
                continue
            inner = indent + len(head[1]) - len(rest)
            self.lines[self.i] = " " * inner + rest  # the item's content, as a line of its own
            if _is_item(rest):
                items.append(self.sequence(inner))
            elif _split_key(rest) is not None:
                items.append(self.mapping(inner))
            else:
                self.i += 1
                items.append(self.scalar(rest, indent))
        return items

    def mapping(self, indent: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        while (head := self.peek()) and head[0] == indent and not _is_item(head[1]):
            split = _split_key(head[1])
            if split is None:
                raise ValueError(f"line {self.i + 1}: expected `key: value`")
            key, rest = split
            self.i += 1
            out[key] = self.value(rest, indent)
        return out

    def value(self, rest: str, indent: int) -> Any:
        if not rest:
            return self.child(indent, allow_same=True)
        if rest[0] in "|>":
            return self.block(rest, indent)
        return self.scalar(rest, indent)

    def child(self, indent: int, *, allow_same: bool) -> Any:
        head = self.peek()
        if head and (head[0] > indent or (allow_same and head[0] == indent and _is_item(head[1]))):
            return self.node(head[0])
        return None

    def block(self, header: str, indent: int) -> str:
        """A literal (|) or folded (>) block scalar with its chomping indicator."""
        lines: list[str] = []
        block_indent: int | None = None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if not raw.strip():
                lines.append("")
                self.i += 1
                continue
            width = len(raw) - len(raw.lstrip(" "))
            if block_indent is None:
                block_indent = width
            if width < block_indent or width <= indent:
                break
            lines.append(raw[block_indent:])
            self.i += 1
        body_end = len(lines)
        while body_end and not lines[body_end - 1]:
            body_end -= 1
        trailing = len(lines) - body_end
        body = lines[:body_end]
        text = ("\n" if header[0] == "|" else " ").join(body)
        if "-" in header or not body:
            return text
        return text + "\n" * (1 + trailing if "+" in header else 1)

    def scalar(self, rest: str, indent: int) -> Any:
        if rest[0] in "\"'":
            return self.quoted(rest)
        parts = [rest.rstrip()]
        while True:
            start = self.i
            head = self.peek()
            if head is None or head[0] <= indent:
                self.i = start
                break
            parts.extend([""] * (self.i - start))
            parts.append(head[1].rstrip())
            self.i += 1
        return _plain(_fold(parts))

    def quoted(self, rest: str) -> str:
        quote = rest[0]
        pieces = [rest[1:]]
        while True:
            end = _closing(pieces[-1], quote)
            if end is not None:
                pieces[-1] = pieces[-1][:end]
                break
            pieces.append(self.lines[self.i].strip(" "))
            self.i += 1
        if quote == "'":
            return _fold(pieces).replace("''", "'")
        return _unescape(_fold(pieces, escaped_breaks=True))


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _split_key(text: str) -> tuple[str, str] | None:
    if text[0] in "\"'":
        end = _closing(text[1:], text[0])
        if end is None or not text[end + 2 :].startswith(":"):
            return None
        key, after = text[1 : end + 1], text[end + 3 :]
        return (key if text[0] == "'" else _unescape(key)), after.strip()
    if text.endswith(":"):
        return text[:-1], ""
    at = text.find(": ")
    return (text[:at], text[at + 2 :].strip()) if at > 0 else None


def _closing(text: str, quote: str) -> int | None:
    """Index of the closing quote in `text`, or None when the scalar goes on."""
    j = 0
    while j < len(text):
        ch = text[j]
        if quote == '"' and ch == "\\":
            j += 2
            continue
        if ch == quote:
            if quote == "'" and text[j + 1 : j + 2] == "'":
                j += 2
                continue
            return j
        j += 1
    return None


def _fold(pieces: list[str], *, escaped_breaks: bool = False) -> str:
    """Line folding: one break becomes a space, each empty line a newline."""
    text = pieces[0]
    newlines = 0
    for piece in pieces[1:]:
        if not piece.strip():
            newlines += 1
            continue
        if escaped_breaks and newlines == 0 and (len(text) - len(text.rstrip("\\"))) % 2 == 1:
            text = text[:-1] + piece.lstrip(" \t")
        else:
            text = text.rstrip(" \t") + ("\n" * newlines if newlines else " ") + piece.lstrip(" \t")
        newlines = 0
    return text + "\n" * newlines


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES[code]

    return _ESCAPE.sub(one, text)


def _plain(text: str) -> Any:
    if text in ("null", "Null", "NULL", "~", ""):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text
