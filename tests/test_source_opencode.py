"""The OpenCode source: truth.json figures of ../shared/gen_agents.py, JSON and SQLite copies, and traps."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, CliResult, run_json
from tiermon.ingest.config import load_settings
from tiermon.ingest.discovery import scan, source_roots
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.sources import SOURCES, opencode
from tiermon.ingest.store import Store

GENERATOR = REPO.parent / "shared" / "gen_agents.py"
SEED = 3
BUCKETS = ("requests", "input", "cache_read", "cache_write", "output", "reasoning")
COSTS = {
    "claude-sonnet-4-5": 0.0781629,
    "gpt-5.1-codex-mini": 0.01090365,
    "claude-haiku-4-5": 0.01577835,
    "qwen3-coder:30b": 0.0,
    "gemini-3-flash-preview": 0.00735245,
    "gemini-3.1-pro-preview": 0.039648,
}
"""gen_agents.py count --price (genai-prices 0.2.3, provider from providerID; local models free), seed 3."""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """gen_agents.py output (seed 3): OpenCode's data dir and the truth of its sessions."""
    if not GENERATOR.is_file():
        pytest.skip("../shared/gen_agents.py is not present")
    out = tmp_path_factory.mktemp("agents")
    subprocess.run(
        [sys.executable, str(GENERATOR), "gen", str(out), "--seed", str(SEED)], check=True, capture_output=True
    )
    truth = json.loads((out / "truth.json").read_text())
    sessions = {k.removeprefix("opencode:"): v for k, v in truth["sessions"].items() if k.startswith("opencode:")}
    return out / "opencode" / ".local" / "share" / "opencode", sessions


@pytest.fixture(scope="module")
def store_db(generated: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "t.duckdb"
    Ingestor(load_settings(db=db, sources=[("opencode", generated[0])])).run()
    return db


@pytest.fixture
def data_dir(generated: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A private copy of the generated data dir, for tests that change it."""
    return Path(shutil.copytree(generated[0], tmp_path / "opencode"))


def figures(db: Path) -> dict[str, dict[str, dict[str, int]]]:
    """session -> model -> the truth.json buckets, from the store."""
    with Store.open(db, read_only=True) as store:
        rows = store.query(
            """SELECT session_id, model, count(*), sum(input_tokens), sum(cache_read_tokens),
                      sum(cache_write_5m_tokens + cache_write_1h_tokens), sum(output_tokens),
                      coalesce(sum(reasoning_tokens), 0)
               FROM responses GROUP BY ALL"""
        )
    out: dict[str, dict[str, dict[str, int]]] = {}
    for sid, model, *values in rows:
        out.setdefault(sid, {})[model] = dict(zip(BUCKETS, (int(v) for v in values), strict=True))
    return out


def events(db: Path) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as store:
        return [tuple(r) for r in store.query("SELECT session_id, kind, subtype, name, text, is_error, k FROM events")]


def ingest(root: Path, db: Path) -> Any:
    return Ingestor(load_settings(db=db, sources=[("opencode", root)])).run()


def truth_models(truth: dict[str, Any], sessions: Iterator[str] | list[str] | None = None) -> dict[str, Any]:
    return {sid: truth[sid]["models"] for sid in (sessions if sessions is not None else truth)}


# -- truth.json --------------------------------------------------------------------


def test_tokens_per_session_and_model_match_truth(generated: tuple[Path, dict[str, Any]], store_db: Path) -> None:
    assert figures(store_db) == truth_models(generated[1])


def test_turns_tool_calls_errors_compactions_and_model_commands_match_truth(
    generated: tuple[Path, dict[str, Any]], store_db: Path
) -> None:
    rows = events(store_db)
    for sid, s in generated[1].items():
        mine = [r for r in rows if r[0] == sid]
        assert sum(r[1] == "prompt" for r in mine) == s["turns"], sid
        assert sum(r[1] == "tool_use" for r in mine) == s["tool_calls"], sid
        assert sum(r[1] == "tool_result" and r[5] for r in mine) == s["tool_errors"], sid
        assert sum(r[2] == "compact_boundary" for r in mine) == s["compactions"], sid
        commands = [r[4].split("/", 1)[1] for r in mine if r[1] == "command" and r[3] == "/model"]
        assert commands == [sw["to"] for sw in s["switches"] if sw["cause"] == "command"], sid


def test_rows_carry_agent_and_vendor_from_the_provider(store_db: Path) -> None:
    with Store.open(store_db, read_only=True) as store:
        rows = {tuple(r) for r in store.query("SELECT DISTINCT model, agent, vendor, source_kind FROM responses")}
    assert rows == {
        ("claude-sonnet-4-5", "opencode", "anthropic", "opencode"),
        ("claude-haiku-4-5", "opencode", "anthropic", "opencode"),
        ("gpt-5.1-codex-mini", "opencode", "openai", "opencode"),
        ("qwen3-coder:30b", "opencode", "local", "opencode"),
        ("gemini-3-flash-preview", "opencode", "google", "opencode"),
        ("gemini-3.1-pro-preview", "opencode", "google", "opencode"),
    }


def test_a_message_of_three_steps_is_three_requests_not_its_last_step(
    generated: tuple[Path, dict[str, Any]], store_db: Path
) -> None:
    storage = generated[0] / "storage"
    messages = [json.loads(p.read_text()) for p in storage.glob("message/*/*.json")]
    first = next(m for m in messages if m.get("modelID") == "claude-sonnet-4-5")
    with Store.open(store_db, read_only=True) as store:
        steps = store.query(
            "SELECT input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens FROM responses "
            "WHERE message_id = ? ORDER BY k",
            [first["id"]],
        )
    assert len(steps) == 3
    last = first["tokens"]
    assert tuple(steps[-1]) == (last["input"], last["output"], last["cache"]["read"], last["cache"]["write"])
    assert sum(s[1] for s in steps) > last["output"]


def test_child_sessions_are_linked_to_their_parent(generated: tuple[Path, dict[str, Any]], store_db: Path) -> None:
    children = {sid: s["parent"] for sid, s in generated[1].items() if s["parent"]}
    with Store.open(store_db, read_only=True) as store:
        meta = {r[0]: r[1] for r in store.query("SELECT agent_id, session_id FROM agent_meta")}
    assert meta == children


def test_cost_per_model_matches_genai_prices(store_db: Path) -> None:
    with Store.open(store_db, read_only=True) as store:
        costs = dict(store.query("SELECT model, round(sum(cost_usd), 8) FROM responses GROUP BY 1"))
    assert costs == COSTS


# -- JSON storage and the database ---------------------------------------------------


def test_json_and_database_copies_of_one_session_count_once(
    generated: tuple[Path, dict[str, Any]], data_dir: Path, tmp_path: Path
) -> None:
    truth = generated[1]
    json_only, db_only = tmp_path / "json", tmp_path / "db"
    shutil.copytree(data_dir / "storage", json_only / "storage")
    db_only.mkdir()
    shutil.copy(data_dir / "opencode.db", db_only / "opencode.db")
    got_json, got_db = figures(_ingested(json_only, tmp_path)), figures(_ingested(db_only, tmp_path))
    both_db = _ingested(data_dir, tmp_path)
    shared = set(got_json) & set(got_db)
    assert len(shared) == 1  # the local session 1.2.0 wrote to both places
    sid = shared.pop()
    assert figures(both_db) == truth_models(truth)
    assert got_json[sid] == got_db[sid] == truth[sid]["models"]
    mine = [r for r in events(both_db) if r[0] == sid]
    assert sum(r[1] == "prompt" for r in mine) == truth[sid]["turns"]
    assert sum(r[1] == "tool_use" for r in mine) == truth[sid]["tool_calls"]


def _ingested(root: Path, tmp_path: Path) -> Path:
    db = tmp_path / f"{root.name}-{len(list(tmp_path.glob('*.duckdb')))}.duckdb"
    ingest(root, db)
    return db


def test_rows_added_to_the_database_later_add_only_themselves(
    generated: tuple[Path, dict[str, Any]], data_dir: Path, db: Path
) -> None:
    ingest(data_dir, db)
    con = sqlite3.connect(data_dir / "opencode.db")
    mid, sid = con.execute("SELECT id, session_id FROM message WHERE data LIKE '%gemini-3.1-pro%'").fetchone()
    step = {"type": "step-finish", "reason": "stop", "tokens": {"input": 7, "output": 3, "reasoning": 0,
                                                                "cache": {"read": 0, "write": 0}}}  # fmt: skip
    con.execute("INSERT INTO part VALUES ('prt_zzlate', ?, ?, 0, 0, ?)", (mid, sid, json.dumps(step)))
    con.commit()
    con.close()
    ingest(data_dir, db)
    expected = truth_models(generated[1])
    row = dict(expected[sid]["gemini-3.1-pro-preview"])
    row.update(requests=row["requests"] + 1, input=row["input"] + 7, output=row["output"] + 3)
    expected[sid] = {**expected[sid], "gemini-3.1-pro-preview": row}
    assert figures(db) == expected


def test_a_step_part_file_written_later_adds_one_request(
    generated: tuple[Path, dict[str, Any]], data_dir: Path, db: Path
) -> None:
    ingest(data_dir, db)
    before = figures(db)
    steps = [p for p in (data_dir / "storage" / "part").glob("*/*.json") if '"step-finish"' in p.read_text()]
    part = json.loads(steps[0].read_text())
    part["id"] = "prt_zzzlater"
    (steps[0].parent / "prt_zzzlater.json").write_text(json.dumps(part))
    ingest(data_dir, db)
    after = figures(db)
    changed = [(sid, m) for sid, models in after.items() for m in models if after[sid][m] != before[sid][m]]
    assert len(changed) == 1
    sid, model = changed[0]
    assert after[sid][model]["requests"] == before[sid][model]["requests"] + 1


def test_rows_only_in_the_write_ahead_log_are_read(data_dir: Path, db: Path) -> None:
    """With OpenCode running, new rows sit in opencode.db-wal until a checkpoint; the -wal is watched too."""
    writer = sqlite3.connect(data_dir / "opencode.db")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    mid, sid = writer.execute("SELECT id, session_id FROM message WHERE data LIKE '%gemini-3-flash%'").fetchone()
    ingest(data_dir, db)
    before = figures(db)[sid]["gemini-3-flash-preview"]["requests"]
    step = {"type": "step-finish", "tokens": {"input": 5, "output": 1, "reasoning": 0, "cache": {"read": 0}}}
    writer.execute("INSERT INTO part VALUES ('prt_zzwal', ?, ?, 0, 0, ?)", (mid, sid, json.dumps(step)))
    writer.commit()
    assert (data_dir / "opencode.db-wal").stat().st_size > 0
    summary = ingest(data_dir, db)
    writer.close()
    assert summary.quarantined == 0
    assert figures(db)[sid]["gemini-3-flash-preview"]["requests"] == before + 1


def test_a_message_without_steps_falls_back_to_its_own_tokens_once_finished(tmp_path: Path, db: Path) -> None:
    storage = tmp_path / "oc" / "storage"
    tokens = {"input": 100, "output": 20, "reasoning": 0, "cache": {"read": 50, "write": 0}}
    for mid, completed in (("msg_a", 1794826803500), ("msg_b", None)):
        time = {"created": 1794826803000, **({"completed": completed} if completed else {})}
        msg = {"id": mid, "sessionID": "ses_x", "role": "assistant", "modelID": "claude-sonnet-4-5",
               "providerID": "anthropic", "time": time, "tokens": tokens}  # fmt: skip
        (storage / "message" / "ses_x").mkdir(parents=True, exist_ok=True)
        (storage / "message" / "ses_x" / f"{mid}.json").write_text(json.dumps(msg))
    ingest(tmp_path / "oc", db)
    assert figures(db) == {"ses_x": {"claude-sonnet-4-5": dict(zip(BUCKETS, (1, 100, 50, 0, 20, 0), strict=True))}}


def test_reasoning_is_added_only_where_it_is_not_inside_output() -> None:
    with_total = {"total": 160, "input": 10, "output": 50, "reasoning": 100, "cache": {"read": 0, "write": 0}}
    inside = {"total": 60, "input": 10, "output": 50, "reasoning": 30, "cache": {"read": 0, "write": 0}}
    no_total = {"input": 10, "output": 50, "reasoning": 30, "cache": {"read": 0, "write": 0}}
    assert opencode._buckets(with_total, "openai")[3] == 150
    assert opencode._buckets(inside, "google")[3] == 50
    assert opencode._buckets(no_total, "openai")[3] == 50
    assert opencode._buckets(no_total, "anthropic")[3] == 80


def test_vendor_comes_from_the_provider_and_local_servers_are_local() -> None:
    assert opencode.vendor("ollama", "qwen3-coder:30b") == "local"
    assert opencode.vendor("lmstudio", "qwen/qwen3-coder-30b") == "local"
    assert opencode.vendor("custom-box", "gemma4:26b") == "local"
    assert opencode.vendor("openrouter", "qwen/qwen3-coder:free") == "alibaba"
    assert opencode.vendor("amazon-bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0") == "anthropic"
    assert opencode.vendor("ollama-cloud", "qwen3-coder:480b-cloud") == "alibaba"
    assert opencode.vendor("github-copilot", "claude-sonnet-4.5") == "anthropic"
    assert opencode.vendor("opencode", "big-pickle") == "opencode"


# -- hostile and half-written files ----------------------------------------------------


def test_a_file_named_opencode_db_that_is_not_a_database_is_quarantined(tmp_path: Path, db: Path) -> None:
    root = tmp_path / "oc"
    root.mkdir()
    (root / "opencode.db").write_bytes(b"not a database at all\n" * 100)
    summary = ingest(root, db)
    assert summary.quarantined == 1
    with Store.open(db, read_only=True) as store:
        assert "cannot read OpenCode database" in store.query("SELECT reason FROM quarantine")[0][0]


def test_a_torn_database_is_quarantined(data_dir: Path, tmp_path: Path) -> None:
    data = (data_dir / "opencode.db").read_bytes()
    torn = tmp_path / "opencode.db"
    torn.write_bytes(data[: len(data) // 2])
    for cut in (100, len(data) // 2, len(data) - 4096):
        torn.write_bytes(data[:cut])
        batch = opencode.parse_database(b"", 0, str(torn), None)
        assert batch.response_count == 0
        assert [q[2] for q in batch.quarantine] == ["cannot read OpenCode database: database disk image is malformed"]


def test_a_locked_database_is_quarantined_not_waited_on(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opencode, "DB_TIMEOUT_S", 0.05)
    db = data_dir / "opencode.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        batch = opencode.parse_database(b"", 0, str(db), None)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert batch.response_count == 0
    assert ["locked" in q[2] for q in batch.quarantine] == [True]


def test_an_unknown_schema_is_quarantined(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE session_message (id TEXT, session_id TEXT, type TEXT, data TEXT)")
    con.close()
    batch = opencode.parse_database(b"", 0, str(db), None)
    assert "unknown OpenCode schema" in batch.quarantine[0][2]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"type": "step-finish", "tokens": {"input": -1}', "invalid JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"type": "step-finish", "tokens": {"input": -1, "output": 2}}', "out of range"),
        (b'{"type": "step-finish", "tokens": {"input": 9007199254740992}}', "out of range"),
        (b'{"type": "step-finish", "tokens": {"input": "12"}}', "not an integer"),
        (b'{"type": "step-finish", "tokens": 5}', "without a tokens object"),
    ],
)
def test_bad_part_files_are_quarantined(data_dir: Path, db: Path, content: bytes, reason: str) -> None:
    msg_dir = next(p for p in (data_dir / "storage" / "part").iterdir() if any(p.iterdir()))
    (msg_dir / "prt_zzbad.json").write_bytes(content)
    (data_dir / "opencode.db").unlink()
    summary = ingest(data_dir, db)
    assert summary.quarantined == 1
    with Store.open(db, read_only=True) as store:
        assert reason in store.query("SELECT reason FROM quarantine")[0][0]


def test_a_part_whose_message_is_missing_is_quarantined(tmp_path: Path, db: Path) -> None:
    part_dir = tmp_path / "oc" / "storage" / "part" / "msg_gone"
    part_dir.mkdir(parents=True)
    part = {"id": "prt_1", "sessionID": "ses_x", "messageID": "msg_gone", "type": "step-finish",
            "tokens": {"input": 1, "output": 1}}  # fmt: skip
    (part_dir / "prt_1.json").write_text(json.dumps(part))
    assert ingest(tmp_path / "oc", db).quarantined == 1


# -- discovery and the CLI -----------------------------------------------------------


def test_default_home_and_files(tmp_path: Path) -> None:
    root = tmp_path / ".local" / "share" / "opencode"
    files = ["opencode.db", "opencode.db-wal", "opencode.db-shm", "opencode-beta.db", "auth.json",
             "storage/message/ses_1/msg_1.json", "storage/part/msg_1/prt_1.json", "storage/session/p/ses_1.json",
             "storage/project/p.json", "snapshot/p/objects/ab.json", "log/x.log"]  # fmt: skip
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    roots = source_roots(None, env={"HOME": str(tmp_path)})["opencode"]
    assert roots == [root]
    found = {(str(f.path.relative_to(root)), f.format) for f in scan({"opencode": roots})}
    assert found == {
        ("opencode.db", "opencode-db"), ("opencode.db-wal", "opencode-db"), ("opencode-beta.db", "opencode-db"),
        ("storage/message/ses_1/msg_1.json", "opencode-message"), ("storage/part/msg_1/prt_1.json", "opencode-part"),
        ("storage/session/p/ses_1.json", "opencode-session"),
    }  # fmt: skip
    assert SOURCES["opencode"] is opencode.SOURCE and opencode.SOURCE.agent == "opencode"
    xdg = tmp_path / "xdg"
    (xdg / "opencode").mkdir(parents=True)
    assert source_roots(None, env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(xdg)})["opencode"] == [xdg / "opencode"]
    assert opencode.SOURCE.root_for(root / "storage") == root


def test_cli_ingest_and_reports(
    generated: tuple[Path, dict[str, Any]], tmp_path: Path, tiermon: Callable[..., CliResult]
) -> None:
    root, truth = generated
    db = str(tmp_path / "cli.duckdb")
    tiermon("--db", db, "--source", f"opencode={root}", "ingest")
    report = run_json(tiermon, "--db", db, "report", "session", "--json", "--breakdown")
    got = {
        s["session_id"]: {
            m["model"]: (m["requests"], m["input_tokens"], m["cache_read_tokens"], m["cache_write_5m_tokens"],
                         m["output_tokens"])
            for m in s["models"]
        }
        for s in report["sessions"]
    }  # fmt: skip
    assert got == {
        sid: {m: (r["requests"], r["input"], r["cache_read"], r["cache_write"], r["output"]) for m, r in s.items()}
        for sid, s in truth_models(truth).items()
    }
    assert {s["source_kind"] for s in report["sessions"]} == {"opencode"}
    models = run_json(tiermon, "--db", db, "report", "model", "--json")["models"]
    assert {m["model"]: m["requests"] for m in models} == {
        m: sum(s["models"].get(m, {}).get("requests", 0) for s in truth.values()) for m in COSTS
    }
