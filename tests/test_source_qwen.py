"""The Qwen Code source: truth.json figures of ../shared/gen_agents.py, and the format's duplicate traps."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, CliResult, run_json
from tiermon.ingest.config import load_settings
from tiermon.ingest.discovery import scan, source_roots
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.sources import SOURCES, qwen
from tiermon.ingest.store import Store

GENERATOR = REPO.parent / "shared" / "gen_agents.py"
SEED = 3
BUCKETS = ("requests", "input", "cache_read", "cache_write", "output", "reasoning")
COSTS = {"gemini-2.5-flash": 0.0018811, "qwen3-coder:30b": 0.0}
"""gen_agents.py count --price (genai-prices 0.2.3), seed 3; Qwen ids are not in genai-prices."""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """gen_agents.py output (seed 3): the Qwen home and the truth of its sessions."""
    if not GENERATOR.is_file():
        pytest.skip("../shared/gen_agents.py is not present")
    out = tmp_path_factory.mktemp("agents")
    subprocess.run([sys.executable, str(GENERATOR), "gen", str(out), "--seed", str(SEED)], check=True,
                   capture_output=True)  # fmt: skip
    truth = json.loads((out / "truth.json").read_text())
    sessions = {k.removeprefix("qwen:"): v for k, v in truth["sessions"].items() if k.startswith("qwen:")}
    return out / "qwen" / ".qwen", sessions


@pytest.fixture(scope="module")
def store_db(generated: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "t.duckdb"
    Ingestor(load_settings(db=db, sources=[("qwen", generated[0])])).run()
    return db


def figures(db: Path, where: str = "TRUE") -> dict[str, dict[str, dict[str, int]]]:
    """session -> model -> the truth.json buckets, from the store."""
    with Store.open(db, read_only=True) as store:
        rows = store.query(
            f"""SELECT session_id, model, count(*), sum(input_tokens), sum(cache_read_tokens),
                       sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(output_tokens),
                       coalesce(sum(reasoning_tokens), 0)
                FROM responses WHERE {where} GROUP BY ALL"""
        )
    out: dict[str, dict[str, dict[str, int]]] = {}
    for sid, model, *values in rows:
        out.setdefault(sid, {})[model] = dict(zip(BUCKETS, (int(v) for v in values), strict=True))
    return out


def events(db: Path) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as store:
        return [tuple(r) for r in store.query("SELECT session_id, kind, subtype, name, text, is_error FROM events")]


# -- truth.json --------------------------------------------------------------------


def test_tokens_per_session_and_model_match_truth(generated: tuple[Path, dict[str, Any]], store_db: Path) -> None:
    _, truth = generated
    assert figures(store_db) == {sid: s["models"] for sid, s in truth.items()}


def test_turns_tool_calls_errors_and_compactions_match_truth(
    generated: tuple[Path, dict[str, Any]], store_db: Path
) -> None:
    _, truth = generated
    rows = [r for r in events(store_db)]
    for sid, s in truth.items():
        mine = [r for r in rows if r[0] == sid]
        assert sum(r[1] == "prompt" for r in mine) == s["turns"], sid
        assert sum(r[1] == "tool_result" for r in mine) == s["tool_calls"], sid
        assert sum(r[1] == "tool_result" and r[5] for r in mine) == s["tool_errors"], sid
        assert sum(r[2] == "compact_boundary" for r in mine) == s["compactions"], sid
        commands = [r[4] for r in mine if r[1] == "command" and r[3] == "/model"]
        assert commands == [sw["to"] for sw in s["switches"] if sw["cause"] == "command"], sid


def test_rows_carry_agent_vendor_and_tier(store_db: Path) -> None:
    with Store.open(store_db, read_only=True) as store:
        rows = {tuple(r) for r in store.query("SELECT DISTINCT model, agent, vendor, tier, source_kind FROM responses")}
    assert rows == {
        ("coder-model", "qwen-code", "alibaba", "mid", "qwen"),
        ("qwen3-coder-plus", "qwen-code", "alibaba", "mid", "qwen"),
        ("qwen3-coder-flash", "qwen-code", "alibaba", "small", "qwen"),
        ("qwen3-coder:30b", "qwen-code", "local", "small", "qwen"),
        ("gemini-2.5-flash", "qwen-code", "google", "mid", "qwen"),
    }


def test_subagent_requests_are_sidechain_rows_of_their_agent(store_db: Path) -> None:
    with Store.open(store_db, read_only=True) as store:
        rows = store.query("SELECT DISTINCT model, agent_id, is_sidechain FROM responses WHERE is_sidechain")
        meta = store.query("SELECT agent_id, agent_type, description FROM agent_meta")
    assert [(r[0], r[2]) for r in rows] == [("qwen3-coder-flash", True)]
    assert [tuple(m) for m in meta] == [(rows[0][1], "Explore", "find callers")]


def test_shell_and_read_calls_use_the_canonical_names(store_db: Path) -> None:
    tools = {(r[3], r[4]) for r in events(store_db) if r[1] == "tool_use"}
    assert ("Bash", "npm test") in tools
    assert ("Read", "/home/dev/webshop/src/tax.ts") in tools


def test_cost_per_model_matches_genai_prices(store_db: Path) -> None:
    with Store.open(store_db, read_only=True) as store:
        costs = dict(store.query("SELECT model, round(sum(cost_usd), 8) FROM responses GROUP BY 1"))
    assert {m: costs.get(m) for m in COSTS} == COSTS


# -- traps -------------------------------------------------------------------------


def _line(**fields: Any) -> str:
    base = {"sessionId": "s1", "timestamp": "2026-11-16T09:00:00.000Z", "cwd": "/w", "version": "0.15.6"}
    return json.dumps({**base, **fields}) + "\n"


def _assistant(uid: str, prompt: int, cand: int, cached: int = 0, **extra: Any) -> str:
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": cand, "cachedContentTokenCount": cached,
             "totalTokenCount": prompt + cand}  # fmt: skip
    return _line(uuid=uid, type="assistant", model="qwen3-coder-plus", usageMetadata=usage,
                 message={"role": "model", "parts": [{"text": "ok"}]}, **extra)  # fmt: skip


def _telemetry(uid: str, prompt_id: str, **tokens: Any) -> str:
    event = {"event.name": "qwen-code.api_response", "model": "qwen3-coder-flash", "prompt_id": prompt_id, **tokens}
    return _line(uuid=uid, type="system", subtype="ui_telemetry", systemPayload={"uiEvent": event})


def _chat(tmp_path: Path, text: str) -> Path:
    chats = tmp_path / "home" / "projects" / "-w" / "chats"
    chats.mkdir(parents=True, exist_ok=True)
    (chats / "s1.jsonl").write_text(text)
    return tmp_path / "home"


def _ingest(home: Path, db: Path) -> Any:
    return Ingestor(load_settings(db=db, sources=[("qwen", home)])).run()


def test_telemetry_copies_of_main_chain_calls_never_add(tmp_path: Path, db: Path) -> None:
    text = (
        _telemetry("t1", "s1########0", input_token_count=1000, output_token_count=50, cached_content_token_count=800)
        + _assistant("a1", 1000, 50, 800)
        + _line(uuid="t2", type="system", subtype="ui_telemetry",
                systemPayload={"uiEvent": {"event.name": "qwen-code.api_response", "response_id": "r2"}})
        + _assistant("a2", 1200, 70, 1000)
    )  # fmt: skip
    _ingest(_chat(tmp_path, text), db)
    assert figures(db) == {"s1": {"qwen3-coder-plus": dict(zip(BUCKETS, (2, 400, 1800, 0, 120, 0), strict=True))}}


def test_subagent_summary_counts_only_without_its_telemetry(tmp_path: Path, db: Path) -> None:
    summary = {"type": "task_execution", "subagentName": "Explore",
               "executionSummary": {"inputTokens": 900, "outputTokens": 90, "cachedTokens": 100, "totalTokens": 990}}  # fmt: skip
    result = {"callId": "c1", "status": "success", "resultDisplay": summary}
    text = (
        _telemetry("t1", "s1#explore-1#0", input_token_count=500, output_token_count=40, cached_content_token_count=0)
        + _telemetry(
            "t2", "s1#explore-1#1", input_token_count=400, output_token_count=50, cached_content_token_count=100
        )
        + _line(uuid="r1", type="tool_result", toolCallResult=result)
        + _line(uuid="r2", type="tool_result", toolCallResult=dict(result, callId="c2"))
    )
    _ingest(_chat(tmp_path, text), db)
    got = figures(db)["s1"]
    # c1's summary repeats the two telemetry events; c2 had none, so its summary is the only record
    assert got["qwen3-coder-flash"] == dict(zip(BUCKETS, (2, 800, 100, 0, 90, 0), strict=True))
    assert got["unknown"] == dict(zip(BUCKETS, (1, 800, 100, 0, 90, 0), strict=True))


def test_api_errors_from_telemetry_become_events(tmp_path: Path, db: Path) -> None:
    old = {"event.name": "qwen-code.api_error", "model": "coder-model", "error": "quota exceeded",
           "error_type": "RateLimitError", "status_code": 429, "prompt_id": "s1########1"}  # fmt: skip
    new = {"event.name": "api_error", "model": "coder-model", "error_message": "Request failed with status 500",
           "status_code": "500", "prompt_id": "s1########2"}  # fmt: skip
    text = "".join(_line(uuid=f"e{i}", type="system", subtype="ui_telemetry", systemPayload={"uiEvent": ev})
                   for i, ev in enumerate((old, new)))  # fmt: skip
    _ingest(_chat(tmp_path, text), db)
    got = sorted((r[2], r[3], r[4]) for r in events(db) if r[1] == "api_error")
    assert got == [("RateLimitError", "429", "quota exceeded"), ("api_error", "500", "Request failed with status 500")]
    assert figures(db) == {}


def test_subagent_transcripts_never_count_usage(tmp_path: Path, db: Path) -> None:
    """Telemetry is the subagent's usage record; a transcript record with usage would repeat it."""
    sub = tmp_path / "home" / "projects" / "-w" / "subagents" / "s1"
    sub.mkdir(parents=True)
    (sub / "agent-x.jsonl").write_text(_assistant("a1", 100, 10, agentId="x", isSidechain=True))
    _ingest(tmp_path / "home", db)
    assert figures(db) == {}
    assert [(r[1], r[4]) for r in events(db)] == [("text", "ok")]


def test_thoughts_inside_candidates_unless_the_total_adds_them(tmp_path: Path, db: Path) -> None:
    inside = {"promptTokenCount": 100, "candidatesTokenCount": 40, "thoughtsTokenCount": 30, "totalTokenCount": 140}
    added = {"promptTokenCount": 100, "candidatesTokenCount": 40, "thoughtsTokenCount": 30, "totalTokenCount": 170}
    text = _line(uuid="a1", type="assistant", model="m", usageMetadata=inside) + _line(
        uuid="a2", type="assistant", model="n", usageMetadata=added
    )
    _ingest(_chat(tmp_path, text), db)
    got = figures(db)["s1"]
    assert (got["m"]["output"], got["m"]["reasoning"]) == (40, 30)
    assert (got["n"]["output"], got["n"]["reasoning"]) == (70, 30)


def test_forked_copies_and_the_nudge_add_nothing(tmp_path: Path, db: Path) -> None:
    text = (
        _assistant("a1", 100, 10, forkedFrom={"sessionId": "s0", "messageUuid": "a1"})
        + _line(uuid="u1", type="user", message={"role": "user", "parts": [{"text": "Please continue."}]})
        + _line(uuid="u2", type="user", subtype="notification", message={"parts": [{"text": "bg done"}]})
        + _line(uuid="u3", type="user", message={"role": "user", "parts": [{"text": "real \x1b[31mask\x07"}]})
        + _assistant("a2", 200, 20)
    )
    _ingest(_chat(tmp_path, text), db)
    assert figures(db)["s1"]["qwen3-coder-plus"]["requests"] == 1
    assert [r[4] for r in events(db) if r[1] == "prompt"] == ["real ask"]


def test_appended_file_read_in_passes_equals_one_pass(
    generated: tuple[Path, dict[str, Any]], store_db: Path, tmp_path: Path
) -> None:
    source = max(generated[0].glob("projects/*/chats/*.jsonl"), key=lambda p: p.stat().st_size)
    data = source.read_bytes()
    chats = tmp_path / "home" / "projects" / "-w" / "chats"
    chats.mkdir(parents=True)
    target = chats / source.name
    db = tmp_path / "passes.duckdb"
    cuts = [len(data) // 3, len(data) // 3 + 7, 2 * len(data) // 3, len(data)]  # the second cut is mid-line
    for cut in cuts:
        target.write_bytes(data[:cut])
        _ingest(tmp_path / "home", db)
    sid = source.stem
    assert figures(db) == {sid: figures(store_db)[sid]}
    assert sorted(r[1:] for r in events(db)) == sorted(r[1:] for r in events(store_db) if r[0] == sid)


@pytest.mark.parametrize(
    ("usage", "reason"),
    [
        ({"promptTokenCount": -5, "candidatesTokenCount": 1}, "out of range"),
        ({"promptTokenCount": 2**53, "candidatesTokenCount": 1}, "out of range"),
        ({"promptTokenCount": "12", "candidatesTokenCount": 1}, "not an integer"),
        ({"promptTokenCount": 1.5, "candidatesTokenCount": 1}, "not an integer"),
        ("lots", "not an object"),
    ],
)
def test_bad_token_values_quarantine_the_line(tmp_path: Path, db: Path, usage: Any, reason: str) -> None:
    text = _line(uuid="bad", type="assistant", model="m", usageMetadata=usage) + _assistant("ok", 10, 1)
    summary = _ingest(_chat(tmp_path, text), db)
    assert summary.quarantined == 1
    with Store.open(db, read_only=True) as store:
        reasons = [r[0] for r in store.query("SELECT reason FROM quarantine")]
    assert len(reasons) == 1 and reason in reasons[0]
    assert figures(db) == {"s1": {"qwen3-coder-plus": dict(zip(BUCKETS, (1, 10, 0, 0, 1, 0), strict=True))}}


def test_hostile_lines_are_quarantined_and_the_rest_read(tmp_path: Path, db: Path) -> None:
    text = "not json\n[1, 2]\n" + '{"type": "assistant", "usageMetadata": {' + "\n" + _assistant("a1", 10, 1)
    text += '{"type": "assistant", "uuid": "torn", "usageMet'  # a half-written last line waits for its newline
    summary = _ingest(_chat(tmp_path, text), db)
    assert summary.quarantined == 3
    assert figures(db)["s1"]["qwen3-coder-plus"]["requests"] == 1


# -- discovery and the CLI -----------------------------------------------------------


def test_default_home_and_files(tmp_path: Path) -> None:
    home = tmp_path / ".qwen"
    names = ("projects/-w/chats/s1.jsonl", "projects/-w/subagents/s1/agent-x.jsonl",
             "projects/-w/subagents/s1/agent-x.meta.json", "projects/-w/chats/x.txt",
             "tmp/h/chats/session-2025-11-01T10-00-abcd1234.json", "tmp/h/logs.json", "tmp/h/checkpoint-a.json",
             "settings.json")  # fmt: skip
    for name in names:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text("{}\n")
    roots = source_roots(None, env={"HOME": str(tmp_path)})["qwen"]
    assert roots == [home]
    found = {(str(f.path.relative_to(home)), f.format) for f in scan({"qwen": roots})}
    assert found == {
        ("projects/-w/chats/s1.jsonl", "qwen-chat"), ("projects/-w/subagents/s1/agent-x.jsonl", "qwen-chat"),
        ("projects/-w/subagents/s1/agent-x.meta.json", "qwen-agent-meta"),
        ("tmp/h/chats/session-2025-11-01T10-00-abcd1234.json", "qwen-legacy"),
    }  # fmt: skip
    assert SOURCES["qwen"] is qwen.SOURCE and qwen.SOURCE.agent == "qwen-code"
    other = tmp_path / "other"
    (other / "projects").mkdir(parents=True)
    assert source_roots(None, env={"HOME": str(tmp_path), "QWEN_DATA_DIR": f"{other}"})["qwen"] == [other]
    one = home / "projects/-w/chats/s1.jsonl"
    assert [(f.path, f.format) for f in scan(source_roots([("qwen", one)], env={}))] == [(one, "qwen-chat")]


def test_legacy_json_sessions_count_each_message_once(tmp_path: Path, db: Path) -> None:
    """0.1–0.3 wrote Gemini CLI's single JSON with type "qwen"; it is rewritten whole on every change."""
    messages: list[dict[str, Any]] = [
        {"id": "m1", "timestamp": "2025-11-01T10:00:00Z", "type": "user", "content": "fix the tests"},
        {"id": "m2", "timestamp": "2025-11-01T10:00:05Z", "type": "qwen", "model": "qwen3-coder-plus",
         "content": "Running them.", "tokens": {"input": 1000, "output": 60, "cached": 600, "thoughts": 20,
                                                "tool": 0, "total": 1060},
         "toolCalls": [{"id": "c1", "name": "run_shell_command", "args": {"command": "npm  test"},
                        "status": "error", "result": [{"text": "exit 1"}]}]},
        {"id": "m3", "timestamp": "2025-11-01T10:00:09Z", "type": "qwen", "model": "gemini-2.5-pro",
         "content": "Done.", "tokens": {"input": 500, "output": 10, "cached": 0, "thoughts": 30, "tool": 0,
                                        "total": 540}},
        {"id": "m4", "timestamp": "2025-11-01T10:00:10Z", "type": "qwen", "content": "Binary", "tokens": None},
    ]  # fmt: skip
    chats = tmp_path / "home" / "tmp" / "abc" / "chats"
    chats.mkdir(parents=True)
    session = chats / "session-2025-11-01T10-00-s1.json"
    record = {"sessionId": "s1", "projectHash": "abc", "startTime": "2025-11-01T10:00:00Z"}
    session.write_text(json.dumps({**record, "messages": messages[:2]}, indent=2))
    _ingest(tmp_path / "home", db)
    session.write_text(json.dumps({**record, "messages": messages}, indent=2))
    _ingest(tmp_path / "home", db)
    assert figures(db) == {"s1": {
        "qwen3-coder-plus": dict(zip(BUCKETS, (1, 400, 600, 0, 60, 20), strict=True)),
        "gemini-2.5-pro": dict(zip(BUCKETS, (1, 500, 0, 0, 40, 30), strict=True)),
    }}  # fmt: skip
    got = {(r[1], r[3], r[4], r[5]) for r in events(db)}
    assert {("prompt", None, "fix the tests", None), ("tool_use", "Bash", "npm test", None),
            ("tool_result", None, "exit 1", True)} <= got  # fmt: skip
    session.write_text("{ torn")
    assert _ingest(tmp_path / "home", db).quarantined == 1


def test_cli_ingest_and_reports(
    generated: tuple[Path, dict[str, Any]], tmp_path: Path, tiermon: Callable[..., CliResult]
) -> None:
    home, truth = generated
    db = str(tmp_path / "cli.duckdb")
    tiermon("--db", db, "--source", f"qwen={home}", "ingest")
    report = run_json(tiermon, "--db", db, "report", "session", "--json", "--breakdown")
    got = {
        s["session_id"]: {m["model"]: (m["requests"], m["input_tokens"], m["cache_read_tokens"], m["output_tokens"])
                          for m in s["models"]}
        for s in report["sessions"]
    }  # fmt: skip
    assert got == {sid: {m: (r["requests"], r["input"], r["cache_read"], r["output"]) for m, r in s["models"].items()}
                   for sid, s in truth.items()}  # fmt: skip
    assert {s["source_kind"] for s in report["sessions"]} == {"qwen"}
    models = run_json(tiermon, "--db", db, "report", "model", "--json")["models"]
    assert sum(m["requests"] for m in models) == sum(
        r["requests"] for s in truth.values() for r in s["models"].values()
    )
