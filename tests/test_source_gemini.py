"""The Gemini CLI source: corpus figures (MANIFEST #19-21), synthetic truth, and the duplicate traps."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import CORPUS, CliResult, run_json
from tiermon.ingest.config import load_settings
from tiermon.ingest.discovery import parse_source, scan, source_roots
from tiermon.ingest.rows import TOOL_READ, TOOL_SHELL, Batch
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.sources import gemini
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary

LEGACY = "gemini-cli-2025-10-legacy-json"
JSONL = "gemini-cli-2026-04-jsonl"
GEN = CORPUS.parent / "gen_agents.py"

# (session prefix, model, requests, input, cache read, cache writes, output, reasoning): MANIFEST #19-21.
REFERENCE = [
    ("0ab84937", "gemini-3-flash-preview", 5, 113_397, 48_951, 0, 3_575, 1_689),
    ("0ab84937", "gemini-3.1-pro-preview", 1, 40_238, 0, 0, 718, 452),
    ("2d9ea14f", "gemini-2.5-pro", 13, 54_874, 121_305, 0, 2_397, 1_546),
    ("eefc44a3", "gemini-2.5-pro", 18, 140_022, 326_620, 0, 6_944, 3_642),
]
REFERENCE_COST = {"eefc44a3": 0.285295, "2d9ea14f": 0.107725625, "0ab84937": 0.15896305}

Json = dict[str, Any]


def ingest(db: Path, *roots: Path) -> IngestSummary:
    return Ingestor(load_settings(db=db, sources=[("gemini", r) for r in roots])).run()


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as store:
        return [tuple(r) for r in store.query(sql)]


def dump(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every response and event row that matters, in a stable order: two stores compare equal by it."""
    responses = query(db, """SELECT k, session_id, agent_id, model, input_tokens, cache_read_tokens, output_tokens,
                                    reasoning_tokens, agent, vendor, project FROM responses ORDER BY k""")
    events = query(db, """SELECT k, session_id, kind, subtype, name, tool_use_id, text, is_error, model, pre_tokens,
                                 "trigger" FROM events ORDER BY k""")
    return responses, events


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def meta(sid: str, kind: str = "main") -> Json:
    return {"sessionId": sid, "projectHash": "ab" * 32, "startTime": "2026-05-01T10:00:00.000Z",
            "lastUpdated": "2026-05-01T10:00:00.000Z", "kind": kind}  # fmt: skip


def user(mid: str, text: str, second: int) -> Json:
    return {"id": mid, "timestamp": f"2026-05-01T10:00:{second:02d}.000Z", "type": "user", "content": [{"text": text}]}


def reply(mid: str, second: int, inp: int, out: int, *, cached: int = 0, thoughts: int = 0, tool: int = 0,
          model: str = "gemini-2.5-pro", **extra: Any) -> Json:  # fmt: skip
    tokens = {"input": inp, "output": out, "cached": cached, "thoughts": thoughts, "tool": tool,
              "total": inp + out + thoughts + tool}  # fmt: skip
    return {"id": mid, "timestamp": f"2026-05-01T10:00:{second:02d}.000Z", "type": "gemini", "content": "",
            "thoughts": [], "tokens": tokens, "model": model, **extra}  # fmt: skip


# -- the real corpus (MANIFEST #19-21) ---------------------------------------------------------------------------


@pytest.fixture
def corpus_db(corpus: Path, db: Path) -> Path:
    summary = ingest(db, corpus / LEGACY, corpus / JSONL)
    assert summary.quarantined == 0
    return db


def test_manifest_tokens_per_session_and_model(corpus_db: Path) -> None:
    rows = query(corpus_db, """SELECT left(session_id, 8), model, count(*)::INT, sum(input_tokens)::INT,
                                      sum(cache_read_tokens)::INT,
                                      sum(cache_write_5m_tokens + cache_write_1h_tokens)::INT,
                                      sum(output_tokens)::INT, sum(reasoning_tokens)::INT
                               FROM responses GROUP BY ALL ORDER BY 1, 2""")
    assert rows == REFERENCE
    assert query(corpus_db, "SELECT DISTINCT agent, vendor, source_kind FROM responses") == [
        ("gemini-cli", "google", "gemini")]
    tiers = dict(query(corpus_db, "SELECT DISTINCT model, tier FROM responses"))
    assert tiers == {"gemini-2.5-pro": "large", "gemini-3-flash-preview": "mid", "gemini-3.1-pro-preview": "large"}


def test_manifest_costs(corpus_db: Path) -> None:
    costs = dict(query(corpus_db, "SELECT left(session_id, 8), sum(cost_usd) FROM responses GROUP BY 1"))
    assert costs == pytest.approx(REFERENCE_COST, abs=1e-6)


def test_zero_usage_replies_are_requests_without_tokens(corpus_db: Path) -> None:
    """#20: 4 replies with all-zero tokens count as requests (usage missing), on the same model."""
    zero = query(corpus_db, """SELECT count(*), count(DISTINCT model) FROM responses
                               WHERE session_id LIKE '2d9ea14f%' AND input_tokens + output_tokens
                                     + cache_read_tokens = 0""")
    assert zero == [(4, 1)]
    assert query(corpus_db, "SELECT count(*) FROM switches WHERE session_id LIKE '2d9ea14f%'") == [(0,)]


def test_jsonl_rewrites_count_once_and_keep_their_tool_calls(corpus_db: Path) -> None:
    """#21: 28 lines, 5 of 6 replies written twice (the second copy with toolCalls)."""
    assert query(corpus_db, "SELECT count(*), count(DISTINCT message_id) FROM responses WHERE session_id LIKE '0ab8%'"
                 ) == [(6, 6)]  # fmt: skip
    kinds = dict(query(corpus_db, "SELECT kind, count(*) FROM events WHERE session_id LIKE '0ab8%' GROUP BY 1"))
    assert kinds == {"prompt": 2, "tool_use": 12, "tool_result": 12, "text": 2, "interrupt": 1}
    assert query(corpus_db, "SELECT count(*) FROM events WHERE kind = 'tool_result' AND is_error AND session_id LIKE '0ab8%'") == [(0,)]
    reads = query(corpus_db, f"SELECT count(*) FROM events WHERE kind = 'tool_use' AND name = '{TOOL_READ}'")
    assert reads == [(7,)]
    prompts = [t for (t,) in query(corpus_db, "SELECT text FROM events WHERE kind = 'prompt' AND session_id LIKE '0ab8%' ORDER BY ts")]
    assert prompts[0].lstrip().startswith("You are an AI agent") and prompts[1].startswith("幫我做一個小修改")
    assert not any("Please continue" in p for p in prompts)


def test_legacy_files_have_no_tool_calls_and_one_turn(corpus_db: Path) -> None:
    rows = query(corpus_db, """SELECT left(session_id, 8), kind, count(*) FROM events
                               WHERE session_id NOT LIKE '0ab8%' AND kind IN ('prompt', 'tool_use') GROUP BY ALL
                               ORDER BY 1, 2""")
    assert rows == [("2d9ea14f", "prompt", 1), ("eefc44a3", "prompt", 1)]
    projects = query(corpus_db, "SELECT DISTINCT left(session_id, 8), project FROM responses ORDER BY 1")
    assert projects == [("0ab84937", "vibecodingtracker"), ("2d9ea14f", "ab14fe39" + projects[1][1][8:]),
                        ("eefc44a3", projects[1][1])]  # fmt: skip
    assert projects[1][1] == "ab14fe397f91d5f283525b3178d2314aef552f761131c42172a21b7bf735e73d"


def test_auto_routing_switch_shows_through_the_cli(corpus: Path, tmp_path: Path,
                                                   tiermon: Callable[..., CliResult]) -> None:  # fmt: skip
    db = str(tmp_path / "cli.duckdb")
    src = f"gemini={corpus / JSONL}"
    tiermon("--db", db, "--source", src, "ingest")
    sessions = run_json(tiermon, "--db", db, "--source", src, "report", "session", "--json", "--breakdown")["sessions"]
    assert [(s["session_id"][:8], s["source_kind"], s["requests"]) for s in sessions] == [("0ab84937", "gemini", 6)]
    switches = sessions[0]["switches"]
    assert [(w["from_model"], w["to_model"], w["direction"], w["cause"]) for w in switches] == [
        ("gemini-3-flash-preview", "gemini-3.1-pro-preview", "up", "automatic")]
    models = run_json(tiermon, "--db", db, "--source", src, "report", "model", "--json")["models"]
    assert {m["model"]: (m["requests"], m["input_tokens"], m["cache_read_tokens"], m["output_tokens"])
            for m in models} == {"gemini-3-flash-preview": (5, 113_397, 48_951, 3_575),
                                 "gemini-3.1-pro-preview": (1, 40_238, 0, 718)}  # fmt: skip


def test_a_file_read_in_two_passes_parses_as_if_read_at_once(corpus: Path, tmp_path: Path) -> None:
    """#21 cut between a reply and its re-write: the second pass re-emits the id with equal tokens."""
    src = next((corpus / JSONL).rglob("*.jsonl"))
    lines = src.read_bytes().splitlines(keepends=True)
    whole = tmp_path / "one" / "proj" / "chats" / src.name
    whole.parent.mkdir(parents=True)
    shutil.copy(src, whole)
    ingest(tmp_path / "one.duckdb", whole.parent)
    parts = tmp_path / "two" / "proj" / "chats" / src.name
    parts.parent.mkdir(parents=True)
    parts.write_bytes(b"".join(lines[:6]))  # up to the first reply's first copy (no toolCalls yet)
    ingest(tmp_path / "two.duckdb", parts.parent)
    with parts.open("ab") as fh:
        fh.write(b"".join(lines[6:]))
    ingest(tmp_path / "two.duckdb", parts.parent)
    one, two = dump(tmp_path / "one.duckdb"), dump(tmp_path / "two.duckdb")
    assert one == two
    assert len(one[0]) == 6


# -- hand-made traps ---------------------------------------------------------------------------------------------


def test_rewind_keeps_billed_requests_and_says_how_many(tmp_path: Path, db: Path) -> None:
    sid = "11111111-2222-3333-4444-555555555555"
    chats = tmp_path / "tmp" / "shop" / "chats"
    path = write_jsonl(chats / "session-2026-05-01T10-00-11111111.jsonl", [
        meta(sid),
        user("u1", "rename total()", 1),
        reply("r1", 2, 1000, 10, cached=400, thoughts=5),
        {"$set": {"lastUpdated": "2026-05-01T10:00:02.000Z"}},
        user("u2", "rename it to grandTotal()", 3),
        reply("r2", 4, 2000, 20, cached=900),
        {"$rewindTo": "u2"},
        user("u3", "rename it to sumTotal() instead", 5),
        reply("r3", 6, 2100, 30, cached=1900),
    ])  # fmt: skip
    ingest(db, tmp_path)
    assert query(db, "SELECT message_id, input_tokens, cache_read_tokens, output_tokens, reasoning_tokens "
                     "FROM responses ORDER BY ts") == [
        ("r1", 600, 400, 15, 5), ("r2", 1100, 900, 20, 0), ("r3", 200, 1900, 30, 0)]  # fmt: skip
    rewinds = query(db, "SELECT subtype, message_id, text FROM events WHERE kind = 'system'")
    assert rewinds == [("rewind", "u2", "rewound: 1 billed request(s) left the conversation")]
    assert query(db, "SELECT count(*) FROM events WHERE kind = 'prompt'") == [(3,)]
    assert query(db, "SELECT DISTINCT project FROM responses") == [("shop",)]
    assert path.exists()


def test_rewind_state_survives_between_passes(tmp_path: Path) -> None:
    """The parse state (message order, billed ids) travels with the mark: a rewind in pass two sees pass one."""
    sid = "22222222-2222-3333-4444-555555555555"
    first = b"".join(json.dumps(r).encode() + b"\n" for r in (meta(sid), user("u1", "go", 1), reply("r1", 2, 10, 1)))
    second = json.dumps({"$rewindTo": "u1"}).encode() + b"\n"
    path = str(tmp_path / "chats" / "session-x.jsonl")
    state = gemini.JSONL.new_state()
    gemini.parse_jsonl(first, 0, path, state)
    state = gemini.JSONL.load_state(gemini.JSONL.dump_state(state))
    batch = gemini.parse_jsonl(second, len(first), path, state)
    assert batch.events["text"] == ["rewound: 1 billed request(s) left the conversation"]
    assert batch.events["session_id"] == [sid]


def test_legacy_document_rewritten_with_more_messages_adds_only_the_new_ones(tmp_path: Path, db: Path) -> None:
    sid = "33333333-2222-3333-4444-555555555555"
    path = tmp_path / "tmp" / ("cd" * 32) / "chats" / "session-2025-10-05T07-11-33333333.json"
    path.parent.mkdir(parents=True)
    doc = {**meta(sid), "messages": [user("u1", "explain", 1), reply("r1", 2, 500, 50, cached=100)]}
    del doc["kind"]
    path.write_text(json.dumps(doc, indent=2))
    ingest(db, tmp_path)
    doc["messages"] += [reply("r2", 3, 800, 70, cached=500, thoughts=30), reply("r2", 3, 800, 70, cached=500, thoughts=30),
                        user("u2", "Please continue.", 4), reply("r3", 5, 0, 0)]  # fmt: skip
    path.write_text(json.dumps(doc, indent=2))
    summary = ingest(db, tmp_path)
    assert summary.quarantined == 0
    assert query(db, "SELECT count(*)::INT, sum(input_tokens)::INT, sum(cache_read_tokens)::INT, "
                     "sum(output_tokens)::INT FROM responses") == [(3, 400 + 300, 600, 50 + 100)]  # fmt: skip
    assert query(db, "SELECT count(*) FROM events WHERE kind = 'prompt'") == [(1,)]
    assert query(db, "SELECT DISTINCT project FROM responses") == [("cd" * 32,)]


def test_migrated_legacy_copy_and_checkpoints_add_nothing(tmp_path: Path, db: Path) -> None:
    """A resumed legacy session is copied into a .jsonl beside it; a $set.messages checkpoint repeats ids."""
    sid = "44444444-2222-3333-4444-555555555555"
    chats = tmp_path / "chats"
    msgs = [user("u1", "hi", 1), reply("r1", 2, 900, 9, cached=300)]
    chats.mkdir()
    (chats / "session-2026-05-01T10-00-44444444.json").write_text(json.dumps({**meta(sid), "messages": msgs}))
    write_jsonl(chats / "session-2026-05-01T10-00-44444444.jsonl", [
        meta(sid), *msgs, {"$set": {"sessionId": sid}},
        {"id": "i1", "timestamp": "2026-05-01T10:00:03.000Z", "type": "info", "content": "Context compressed from 61% to 12%."},
        {"$set": {"messages": [{"id": "s1", "type": "user", "content": [{"text": "<state_snapshot>goal</state_snapshot>"}]},
                               reply("r1", 2, 900, 9, cached=300)]}},
        reply("r2", 4, 1000, 10, cached=700, tool=40),
    ])  # fmt: skip
    ingest(db, tmp_path)
    assert query(db, "SELECT message_id, input_tokens, cache_read_tokens FROM responses ORDER BY 1") == [
        ("r1", 600, 300), ("r2", 340, 700)]  # fmt: skip
    assert query(db, "SELECT kind, subtype, pre_tokens, \"trigger\" FROM events WHERE kind <> 'prompt'") == [
        ("system", "compact_boundary", 900, "auto")]  # fmt: skip
    assert query(db, "SELECT count(*) FROM events WHERE kind = 'prompt'") == [(1,)]


def test_model_commands_fallbacks_tools_and_errors(tmp_path: Path, db: Path) -> None:
    sid = "55555555-2222-3333-4444-555555555555"
    calls = [
        {"id": "c1", "name": "run_shell_command", "args": {"command": "npm   test"}, "status": "error",
         "resultDisplay": "Command failed: exit code 1", "timestamp": "2026-05-01T10:00:03.000Z"},
        {"id": "c2", "name": "read_many_files", "args": {"paths": ["a.ts", "b.ts"]}, "status": "success"},
        {"id": "c3", "name": "replace", "args": {"file_path": "/p/a.ts"}, "status": "cancelled"},
    ]
    write_jsonl(tmp_path / "chats" / "session-2026-05-01T10-00-55555555.jsonl", [
        meta(sid),
        user("u1", "fix \x1b[31mit\x1b[0m", 1),
        reply("r1", 2, 100, 5, model="gemini-3.1-pro-preview", toolCalls=calls),
        {"id": "i1", "timestamp": "2026-05-01T10:00:04.000Z", "type": "info",
         "content": "Switched to fallback model gemini-3-flash-preview"},
        reply("r2", 5, 110, 5, model="gemini-3-flash-preview"),
        {"id": "i2", "timestamp": "2026-05-01T10:00:06.000Z", "type": "info", "content": "Model set to gemini-2.5-pro"},
        reply("r3", 7, 120, 5, model="gemini-2.5-pro"),
        {"id": "e1", "timestamp": "2026-05-01T10:00:08.000Z", "type": "error", "content": "[API Error: 429 quota]"},
        {"id": "i3", "timestamp": "2026-05-01T10:00:09.000Z", "type": "info", "content": ""},
    ])  # fmt: skip
    ingest(db, tmp_path)
    events = query(db, "SELECT kind, subtype, name, text, is_error, model, \"trigger\" FROM events ORDER BY ts, k")
    assert events == [
        ("prompt", None, None, "fix it", None, None, None),
        ("tool_use", None, TOOL_SHELL, "npm test", None, None, None),
        ("tool_use", None, TOOL_READ, "a.ts, b.ts", None, None, None),
        ("tool_result", "success", None, None, False, None, None),  # no time of its own: the reply's
        ("tool_use", None, "replace", "/p/a.ts", None, None, None),
        ("tool_result", "cancelled", None, None, False, None, None),
        ("tool_result", "error", None, "Command failed: exit code 1", True, None, None),  # the call's own time
        ("system", "model_fallback", None, "Switched to fallback model gemini-3-flash-preview", None,
         "gemini-3-flash-preview", None),
        ("command", None, "/model", "gemini-2.5-pro", None, None, None),
        ("api_error", "error", None, "[API Error: 429 quota]", True, None, None),
        ("system", "compact_boundary", None, None, None, None, "manual"),
    ]  # fmt: skip
    switches = query(db, "SELECT from_model, to_model, cause FROM switches ORDER BY \"at\"")
    assert [s[:2] for s in switches] == [("gemini-3.1-pro-preview", "gemini-3-flash-preview"),
                                         ("gemini-3-flash-preview", "gemini-2.5-pro")]  # fmt: skip
    assert switches[1][2] == "command"


def test_hostile_and_truncated_input_is_quarantined(tmp_path: Path, db: Path) -> None:
    sid = "66666666-2222-3333-4444-555555555555"
    chats = tmp_path / "chats"
    path = write_jsonl(chats / "session-2026-05-01T10-00-66666666.jsonl", [
        meta(sid),
        reply("bad1", 1, -5, 1),
        reply("bad2", 2, 2**60, 1),
        {**reply("bad3", 3, 1, 1), "tokens": {"input": "12", "output": 1}},
        {**reply("bad4", 4, 1, 1), "tokens": {"input": True, "output": 1}},
        [1, 2, 3],
        reply("ok", 5, 70, 7, cached=20),
    ])  # fmt: skip
    with path.open("a") as fh:
        fh.write("{not json}\n" + json.dumps(reply("late", 6, 10, 1))[:30])  # a half-written last line
    (chats / "session-2026-05-01T10-01-77777777.json").write_text('{"sessionId": "x", "messages": [')
    summary = ingest(db, tmp_path)
    assert summary.quarantined == 7  # 4 bad token values, an array, a bad line, the torn legacy document
    reasons = [r for (r,) in query(db, "SELECT reason FROM quarantine ORDER BY file_path, line_offset")]
    assert sum("non-negative integer" in r for r in reasons) == 4 and sum("invalid JSON" in r for r in reasons) == 2
    assert "not a JSON object" in reasons
    assert query(db, "SELECT message_id, input_tokens FROM responses") == [("ok", 50)]
    with path.open("a") as fh:  # the writer finishes its line: now it is read
        fh.write(json.dumps(reply("late", 6, 10, 1))[30:] + "\n")
    ingest(db, tmp_path)
    assert query(db, "SELECT message_id FROM responses ORDER BY 1") == [("late",), ("ok",)]


def test_parser_never_raises_on_odd_records() -> None:
    odd = [{}, {"id": 5}, {"id": "a", "type": "gemini", "tokens": None}, {"id": "b", "type": "gemini", "tokens": {}},
           {"id": "c", "type": "user", "content": [{"functionResponse": {"name": "x"}}]}, {"$set": None},
           {"$rewindTo": "nowhere"}, {"id": "d", "type": "gemini", "toolCalls": [None, {"args": "x"}]}]  # fmt: skip
    buf = b"".join(msgspec.json.encode(o) + b"\n" for o in odd)
    batch: Batch = gemini.parse_jsonl(buf, 0, "/x/chats/session-y.jsonl", gemini.JSONL.new_state())
    assert batch.response_count == 1  # "b": tokens {} is a zero-usage request with no model recorded
    assert batch.responses["model"] == ["unknown"]
    assert [q[2] for q in batch.quarantine] == ["message without a string id"]


# -- discovery ---------------------------------------------------------------------------------------------------


def test_discovery_homes_and_layouts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    chats = home / ".gemini" / "tmp" / "shop" / "chats"
    for name in ("session-a.jsonl", "session-b.json", "parent-id/child-id.jsonl"):
        (chats / name).parent.mkdir(parents=True, exist_ok=True)
        (chats / name).write_text("{}\n")
    for other in ("logs.json", ".project_root", "chats/../checkpoint-x.json"):
        (chats.parent / other).write_text("{}")
    (home / ".gemini" / "projects.json").write_text("{}")
    tmp_root = home / ".gemini" / "tmp"
    assert gemini.SOURCE.default_roots({"HOME": str(home)}) == [tmp_root]
    assert gemini.SOURCE.default_roots({"GEMINI_CLI_HOME": str(home), "HOME": "/nowhere"}) == [tmp_root]
    assert gemini.SOURCE.default_roots({"GEMINI_DATA_DIR": f"{tmp_root}, /nowhere", "HOME": "/x"}) == [tmp_root]
    assert gemini.SOURCE.root_for(home / ".gemini") == tmp_root and gemini.SOURCE.root_for(home) == tmp_root
    assert parse_source(f"gemini={home}") == ("gemini", home)
    found = {(str(f.path.relative_to(chats)), f.format) for f in scan(source_roots([("gemini", home)], env={}))}
    assert found == {("session-a.jsonl", "gemini-jsonl"), ("session-b.json", "gemini-json"),
                     ("parent-id/child-id.jsonl", "gemini-jsonl")}  # fmt: skip


# -- synthetic sessions (gen_agents.py) --------------------------------------------------------------------------


@pytest.fixture
def generated(tmp_path: Path) -> tuple[Path, Json]:
    if not GEN.is_file():
        pytest.skip("../shared/gen_agents.py is not present")
    out = tmp_path / "gen"
    subprocess.run([sys.executable, str(GEN), "gen", str(out), "--seed", "7"], check=True, capture_output=True)
    truth = json.loads((out / "truth.json").read_text())
    return out, {k: s for k, s in truth["sessions"].items() if s["tool"] == "gemini"}


def test_synthetic_sessions_match_truth(generated: tuple[Path, Json], db: Path) -> None:
    out, truth = generated
    assert ingest(db, out / "gemini" / ".gemini").quarantined == 0
    rows = query(db, """SELECT coalesce(agent_id, session_id), session_id, model, count(*)::INT,
                               sum(input_tokens)::INT, sum(cache_read_tokens)::INT,
                               sum(cache_write_5m_tokens)::INT, sum(output_tokens)::INT,
                               sum(reasoning_tokens)::INT, any_value(project)
                        FROM responses GROUP BY ALL""")
    got: dict[str, Json] = {}
    for own, session, model, *counts, project in rows:
        s = got.setdefault(f"gemini:{own}", {"models": {}, "project": project,
                                             "parent": session if session != own else None})  # fmt: skip
        s["models"][model] = dict(zip(("requests", "input", "cache_read", "cache_write", "output", "reasoning"),
                                      counts, strict=True))  # fmt: skip
    assert {k: s["models"] for k, s in got.items()} == {k: s["models"] for k, s in truth.items()}
    assert {k: (s["project"], s["parent"]) for k, s in got.items()} == {
        k: (s["project"], s["parent"]) for k, s in truth.items()}
    for key, exp in truth.items():
        sid = key.removeprefix("gemini:")
        own = f"(coalesce(agent_id, session_id) = '{sid}')"
        kinds = dict(query(db, f"SELECT kind, count(*) FROM events WHERE {own} GROUP BY 1"))
        assert kinds.get("prompt", 0) == exp["turns"], key
        assert kinds.get("tool_use", 0) == exp["tool_calls"], key
        errors = query(db, f"SELECT count(*) FROM events WHERE {own} AND kind = 'tool_result' AND is_error")
        assert errors == [(exp["tool_errors"],)], key
        compactions = query(db, f"SELECT count(*) FROM events WHERE {own} AND subtype = 'compact_boundary'")
        assert compactions == [(exp["compactions"],)], key
        rewound = query(db, f"SELECT text FROM events WHERE {own} AND subtype = 'rewind'")
        assert sum(int(t.split()[1]) for (t,) in rewound) == exp["rewound_requests"], key
        switches = query(db, f"SELECT from_model, to_model, cause FROM switches WHERE session_id = '{sid}' ORDER BY \"at\"")
        assert [s[:2] for s in switches] == [(w["from"], w["to"]) for w in exp["switches"]], key
        assert [s[2] == "command" for s in switches] == [w["cause"] == "command" for w in exp["switches"]], key
        assert [s[2] == "fallback" for s in switches] == [w["cause"] == "fallback" for w in exp["switches"]], key
        fallbacks = query(db, f"SELECT model FROM events WHERE {own} AND subtype = 'model_fallback'")
        assert [m for (m,) in fallbacks] == [w["to"] for w in exp["switches"] if w["cause"] == "fallback"], key
