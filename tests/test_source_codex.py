"""The Codex CLI source: the corpus figures of MANIFEST #16-18 exactly, and the traps of formats/codex.md."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult, run_json
from tiermon.ingest.config import load_settings
from tiermon.ingest.discovery import source_roots
from tiermon.ingest.queries import live_sessions
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.signals.limits import COMPACT_BUFFER
from tiermon.ingest.sources.codex import SOURCE
from tiermon.ingest.sources.codex.parse import parse_rollout
from tiermon.ingest.sources.codex.state import FileState
from tiermon.ingest.store import Store

V058 = "codex-v0.58.0-cli-gpt-5.1-codex"
V0125 = "codex-v0.125.0-tui-gpt-5.5"
DESKTOP = "codex-v0.128.0a1-desktop-no-usage"
S16, S17, S18 = (
    "019a93b9-f380-7600-98ff-940e6b99603c", "019e1625-789d-76c0-80ab-3724b5ddb799",
    "019e1695-0522-7c83-8b39-0dd379793f80",
)  # fmt: skip

# (session, model, requests, input uncached, cached, output, reasoning): MANIFEST #16-17 (oracle).
REFERENCE = [
    (S16, "gpt-5.1-codex", 39, 71_933, 1_027_328, 22_305, 19_520),
    (S17, "gpt-5.5", 66, 1_126_300, 4_929_536, 9_118, 1_759),
]
COSTS = {S16: 0.44138225, S17: 8.369808}


def ingest(db: Path, *roots: Path) -> Any:
    return Ingestor(load_settings(db=db, sources=[("codex", r) for r in roots])).run()


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as store:
        return [tuple(r) for r in store.query(sql, params or [])]


def rollout(corpus: Path, folder: str) -> Path:
    return next((corpus / folder).rglob("rollout-*.jsonl"))


FIGURES = """SELECT session_id, model, count(*), sum(input_tokens), sum(cache_read_tokens), sum(output_tokens),
                    sum(reasoning_tokens) FROM responses GROUP BY ALL ORDER BY 1, 2"""


@pytest.fixture
def corpus_db(corpus: Path, db: Path) -> Path:
    ingest(db, corpus / V058, corpus / V0125, corpus / DESKTOP)
    return db


# -- the corpus --------------------------------------------------------------------


def test_reference_tokens_per_session_and_model(corpus_db: Path) -> None:
    assert query(corpus_db, FIGURES) == REFERENCE
    rows = query(corpus_db, "SELECT DISTINCT agent, vendor, tier, source_kind FROM responses")
    assert rows == [("codex", "openai", "large", "codex")]


def test_reference_costs(corpus_db: Path) -> None:
    costs = dict(query(corpus_db, "SELECT session_id, sum(cost_usd) FROM responses GROUP BY 1"))
    for session, cost in COSTS.items():
        assert costs[session] == pytest.approx(cost, abs=1e-6)


def test_sum_of_records_is_the_last_total(corpus: Path) -> None:
    for folder in (V058, V0125):
        path = rollout(corpus, folder)
        last_total: dict[str, int] = {}
        for line in path.read_text().splitlines():
            info = json.loads(line).get("payload", {}).get("info")
            if isinstance(info, dict) and info.get("total_token_usage"):
                last_total = info["total_token_usage"]
        batch = parse_rollout(path.read_bytes(), 0, str(path), FileState())
        r = batch.responses
        assert sum(r["input_tokens"]) + sum(r["cache_read_tokens"]) == last_total["input_tokens"]
        assert sum(r["cache_read_tokens"]) == last_total["cached_input_tokens"]
        assert sum(r["output_tokens"]) == last_total["output_tokens"]
        assert sum(r["reasoning_tokens"]) == last_total["reasoning_output_tokens"]


def test_context_limit_uses_the_window_codex_recorded(corpus_db: Path) -> None:
    """gpt-5.5's nominal window is 1M; Codex runs it at the 258,400 it records, so Live's fill is of that."""
    signals = query(corpus_db, "SELECT k, context_window, context_limit FROM session_signals WHERE k IN (?, ?)",
                    [S16, S17])  # fmt: skip
    assert sorted(signals) == [(S16, 258_400, 258_400 - COMPACT_BUFFER), (S17, 258_400, 258_400 - COMPACT_BUFFER)]
    with Store.open(corpus_db, read_only=True) as store:
        live = live_sessions(store, now=datetime(2026, 5, 11, 9), window=timedelta(hours=1))
    row = next(r for r in live if r["session_id"] == S17)
    assert (row["model"], row["context_tokens"], row["context_window"]) == ("gpt-5.5", 131_573, 258_400 - COMPACT_BUFFER)


def test_desktop_session_without_usage_keeps_prompts_and_tools(corpus_db: Path) -> None:
    assert query(corpus_db, "SELECT count(*) FROM responses WHERE session_id = ?", [S18]) == [(0,)]
    kinds = dict(query(corpus_db, "SELECT kind, count(*) FROM events WHERE session_id = ? GROUP BY 1", [S18]))
    assert kinds["prompt"] == 3
    assert kinds["tool_use"] == 38
    errors = query(corpus_db, "SELECT count(*) FROM events WHERE session_id = ? AND is_error", [S18])
    assert errors == [(1,)]


def test_a_session_without_usage_is_listed_with_no_requests_and_no_cost(
    corpus_db: Path, tiermon: Callable[..., CliResult]
) -> None:
    """formats/codex.md: count the session, report 0 requests, flag "no usage data" (not a $0 session)."""
    sessions = run_json(tiermon, "--db", str(corpus_db), "sessions", "--json")["sessions"]
    assert {r["session_id"] for r in sessions} == {S16, S17, S18}
    desktop = next(r for r in sessions if r["session_id"] == S18)
    assert (desktop["agent"], desktop["requests"], desktop["cost_usd"], desktop["turns"]) == ("codex", 0, None, 3)
    assert desktop["end"] == "2026-05-11T11:48:14.988000Z"
    table = tiermon("--db", str(corpus_db), "sessions").stdout
    assert "no usage" in next(line for line in table.splitlines() if "019e1695" in line)
    claude_only = run_json(tiermon, "--db", str(corpus_db), "--agent", "claude", "sessions", "--json")["sessions"]
    assert claude_only == []
    from tiermon.ingest.sessions import count_sessions

    with Store.open(corpus_db, read_only=True) as store:
        assert count_sessions(store) == 3  # the Sessions pane's heading counts what it lists


def test_tool_error_flags(corpus: Path, corpus_db: Path) -> None:
    """#16: 3 non-zero `shell` exits; #17: 4 non-zero exec exits (wherever the code shows first) plus one
    `write_stdin failed` output, a failure without a code."""
    errors = query(
        corpus_db,
        """SELECT r.session_id, u.name, count(*) FROM events r JOIN events u
             ON u.tool_use_id = r.tool_use_id AND u.kind = 'tool_use'
           WHERE r.kind = 'tool_result' AND r.is_error GROUP BY ALL ORDER BY ALL""",
    )
    assert errors == [(S16, "Bash", 3), (S17, "Bash", 4), (S17, "write_stdin", 1), (S18, "Bash", 1)]
    failing_calls = set()
    lines = rollout(corpus, V0125).read_text().splitlines()
    for n in (143, 158, 209, 269):  # the exec_command_end lines MANIFEST #17 names
        end = json.loads(lines[n - 1])["payload"]
        assert end["type"] == "exec_command_end" and end["exit_code"] != 0
        failing_calls.add(end["call_id"])
    flagged = query(corpus_db, "SELECT tool_use_id FROM events WHERE session_id = ? AND is_error", [S17])
    assert failing_calls < {r[0] for r in flagged}
    shell = query(
        corpus_db, "SELECT text FROM events WHERE session_id = ? AND name = 'Bash' ORDER BY line_offset LIMIT 1", [S16]
    )
    assert shell == [("ls",)]


def test_limit_readings(corpus_db: Path) -> None:
    rows = query(
        corpus_db,
        """SELECT subtype, pre_tokens, text, trigger FROM events
           WHERE session_id = ? AND kind = 'limit' ORDER BY ts, line_offset, k""",
        [S16],
    )
    five = [r for r in rows if r[0] == "5h"]
    week = [r for r in rows if r[0] == "7d"]
    assert (five[0][1], five[-1][1]) == (5200, 6400)
    assert (week[0][1], week[-1][1]) == (4000, 4300)
    assert five[0][2] == "2025-11-17T23:38:44Z" and five[0][3] == "codex"
    assert query(corpus_db, "SELECT count(*) FROM events WHERE session_id = ? AND kind = 'limit'", [S17]) == [(0,)]


def test_prompts_are_typed_text_only(corpus_db: Path) -> None:
    prompts = query(corpus_db, "SELECT session_id, count(*) FROM events WHERE kind = 'prompt' GROUP BY 1 ORDER BY 1")
    assert prompts == [(S16, 1), (S17, 2), (S18, 3)]
    injected = query(corpus_db, "SELECT count(*) FROM events WHERE kind = 'prompt' AND text LIKE '<%'")
    assert injected == [(0,)]


def test_appended_line_by_line_over_passes_equals_one_pass(corpus: Path, tmp_path: Path) -> None:
    source = rollout(corpus, V058)
    data = source.read_bytes()
    live = tmp_path / "home" / "sessions" / source.name
    live.parent.mkdir(parents=True)
    db = tmp_path / "passes.duckdb"
    cut = 0
    for stop in (1, 8, 9, 10, 40, 41, 120, 200, 278):
        end = _nth_newline(data, stop)
        live.open("ab").write(data[cut : end + 20])  # a half-written next line rides along
        ingest(db, live.parent.parent)
        live.open("r+b").truncate(end + 1)
        cut = end + 1
    live.open("ab").write(data[cut:])
    ingest(db, live.parent.parent)
    assert query(db, FIGURES) == REFERENCE[:1]
    once = tmp_path / "once.duckdb"
    ingest(once, corpus / V058)
    events = "SELECT kind, count(*), sum(coalesce(pre_tokens, 0)) FROM events GROUP BY 1 ORDER BY 1"
    assert query(db, events) == query(once, events)


def _nth_newline(data: bytes, n: int) -> int:
    at = -1
    for _ in range(n):
        at = data.index(b"\n", at + 1)
    return at


def test_archived_copy_read_once_and_default_home(corpus: Path, tmp_path: Path) -> None:
    home = tmp_path / "codex-home"
    source = rollout(corpus, V058)
    for folder in ("sessions/2025/11/17", "archived_sessions"):
        (home / folder).mkdir(parents=True)
        (home / folder / source.name).write_bytes(source.read_bytes())
    (home / "history.jsonl").write_text('{"text": "not a rollout"}\n')
    assert SOURCE.default_roots({"CODEX_HOME": str(home)}) == [home]
    assert SOURCE.default_roots({"HOME": str(tmp_path / "nobody")}) == []
    files = list(SOURCE.files(home))
    assert [f.path for f in files] == [home / "sessions/2025/11/17" / source.name]
    assert source_roots(None, env={"CODEX_HOME": str(home), "HOME": str(tmp_path)})["codex"] == [home]


def test_source_flag_through_the_cli(corpus: Path, db: Path, tiermon: Callable[..., CliResult]) -> None:
    for folder in (V058, V0125, DESKTOP):
        tiermon("--db", str(db), "--source", f"codex={corpus / folder}", "ingest")
    models = run_json(tiermon, "--db", str(db), "report", "model", "--json")["models"]
    got = {(m["model"], m["requests"], m["input_tokens"], m["cache_read_tokens"], m["output_tokens"]) for m in models}
    assert got == {(r[1], r[2], r[3], r[4], r[5]) for r in REFERENCE}
    sessions = run_json(tiermon, "--db", str(db), "report", "session", "--json", "--breakdown")["sessions"]
    assert {s["session_id"]: s["requests"] for s in sessions} == {S16: 39, S17: 66}
    assert {s["source_kind"] for s in sessions} == {"codex"}


# -- hand-made traps ---------------------------------------------------------------


def _line(ts: str, kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload})


def _usage(i: int, c: int, o: int, r: int = 0) -> dict[str, Any]:
    return {"input_tokens": i, "cached_input_tokens": c, "output_tokens": o, "reasoning_output_tokens": r,
            "total_tokens": i + o}  # fmt: skip


def _count(ts: str, total: dict[str, Any] | None, last: dict[str, Any] | None, used: float = 10.0) -> str:
    info = None if total is None and last is None else {"total_token_usage": total, "last_token_usage": last}
    limits = {"primary": {"used_percent": used, "window_minutes": 300, "resets_at": 1_800_000_000}}
    return _line(ts, "event_msg", {"type": "token_count", "info": info, "rate_limits": limits})


def _meta(ts: str, thread: str, created: str, **extra: Any) -> str:
    return _line(ts, "session_meta", {"id": thread, "timestamp": created, "cwd": "/p", "cli_version": "0.99.0",
                                      **extra})  # fmt: skip


def _parse(lines: list[str], path: str = "rollout-x.jsonl", state: FileState | None = None) -> Any:
    return parse_rollout(("\n".join(lines) + "\n").encode(), 0, path, state or FileState())


PARENT = "11111111-1111-1111-1111-111111111111"
FORK = "22222222-2222-2222-2222-222222222222"
T = "2026-01-01T10:00:"


def _parent_lines() -> list[str]:
    return [
        _meta(T + "00.000Z", PARENT, T + "00.000Z"),
        _line(T + "01.000Z", "event_msg", {"type": "user_message", "message": "fix the bug"}),
        _line(T + "01.100Z", "turn_context", {"model": "gpt-5.1-codex", "cwd": "/p"}),
        _count(T + "05.000Z", _usage(100, 0, 10), _usage(100, 0, 10)),
        _line(T + "05.100Z", "turn_context", {"model": "gpt-5.1-codex", "cwd": "/p"}),
        _count(T + "05.200Z", _usage(100, 0, 10), _usage(100, 0, 10), used=11.0),  # re-emitted, new limits
        _count(T + "09.000Z", _usage(300, 80, 30, 5), _usage(200, 80, 20, 5)),
        _count(T + "09.500Z", _usage(300, 80, 30, 5), _usage(200, 80, 20, 5)),  # re-emitted again
        _count(T + "12.000Z", _usage(600, 250, 40, 5), None),  # total only: usage is the growth
        _count(T + "13.000Z", _usage(300, 80, 30, 5), _usage(200, 80, 20, 5)),  # an older snapshot again
        _count(T + "14.000Z", _usage(600, 250, 40, 5), {"input_tokens": 0, "cached_input_tokens": 0,
               "output_tokens": 0, "reasoning_output_tokens": 0, "total_tokens": 90000}),  # compaction marker
    ]  # fmt: skip


def test_reemitted_token_counts_add_nothing() -> None:
    batch = _parse(_parent_lines())
    r = batch.responses
    assert len(r["k"]) == 3
    assert sum(r["input_tokens"]) + sum(r["cache_read_tokens"]) == 600
    assert (sum(r["cache_read_tokens"]), sum(r["output_tokens"]), sum(r["reasoning_tokens"])) == (250, 40, 5)
    assert r["input_tokens"] == [100, 120, 130]
    assert set(r["model"]) == {"gpt-5.1-codex"} and set(r["session_id"]) == {PARENT}
    limits = [batch.events["pre_tokens"][i] for i, k in enumerate(batch.events["kind"]) if k == "limit"]
    assert limits == [1000, 1100, 1000]


def test_fork_replaying_its_parent_counts_each_request_once(tmp_path: Path) -> None:
    """A fork copies the parent's lines (its session_meta and token_counts included) right after its own
    session_meta; its counters continue from the parent's total."""
    home = tmp_path / "sessions"
    home.mkdir()
    parent = _parent_lines()
    (home / f"rollout-2026-01-01T10-00-00-{PARENT}.jsonl").write_text("\n".join(parent) + "\n")
    restamped = [json.dumps({**json.loads(x), "timestamp": "2026-01-01T10:05:00.300Z"}) for x in parent]
    fork = [
        _meta("2026-01-01T10:05:00.200Z", FORK, "2026-01-01T10:05:00.000Z", forked_from_id=PARENT),
        *restamped,
        _line("2026-01-01T10:05:09.000Z", "event_msg", {"type": "user_message", "message": "now on the fork"}),
        _count("2026-01-01T10:05:12.000Z", _usage(1000, 500, 50, 5), _usage(400, 250, 10)),
    ]
    (home / f"rollout-2026-01-01T10-05-00-{FORK}.jsonl").write_text("\n".join(fork) + "\n")
    db = tmp_path / "fork.duckdb"
    ingest(db, home)
    rows = query(db, "SELECT session_id, count(*), sum(input_tokens + cache_read_tokens) FROM responses GROUP BY 1")
    assert sorted(rows) == [(PARENT, 3, 600), (FORK, 1, 400)]
    prompts = query(db, "SELECT session_id, text FROM events WHERE kind = 'prompt' ORDER BY 1")
    assert prompts == [(PARENT, "fix the bug"), (FORK, "now on the fork")]


def test_fork_with_original_timestamps_is_replay_too() -> None:
    parent = _parent_lines()
    fork = [_meta("2026-01-01T11:00:00.000Z", FORK, "2026-01-01T11:00:00.000Z", forked_from_id=PARENT), *parent[1:],
            _count("2026-01-01T11:00:30.000Z", _usage(700, 300, 45, 5), _usage(100, 50, 5))]  # fmt: skip
    r = _parse(fork).responses
    assert (len(r["k"]), r["input_tokens"], r["cache_read_tokens"]) == (1, [50], [50])


def test_bad_token_values_are_quarantined_and_the_rest_is_read() -> None:
    good = _parent_lines()
    bad = [
        _count(T + "20.000Z", _usage(2**53, 0, 1), _usage(2**53, 0, 1)),
        _count(T + "21.000Z", _usage(700, 250, -4), _usage(100, 0, -4)),
        _count(T + "22.000Z", _usage(700, 250, 45), {**_usage(100, 0, 5), "output_tokens": 5.5}),
        _count(T + "23.000Z", _usage(700, 250, 45), {**_usage(100, 0, 5), "input_tokens": "100"}),
        "{not json",
        "[1, 2]",
    ]
    batch = _parse([*good[:4], *bad, *good[4:]])
    reasons = [q[2] for q in batch.quarantine]
    assert len(reasons) == 6
    assert "last_token_usage" in reasons[0] or "total_token_usage" in reasons[0]
    assert "output_tokens" in reasons[1] and "output_tokens" in reasons[2] and "input_tokens" in reasons[3]
    assert len(batch.responses["k"]) == 3


def test_truncated_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    lines = _parent_lines()
    path = tmp_path / "sessions" / f"rollout-2026-01-01T10-00-00-{PARENT}.jsonl"
    path.parent.mkdir()
    text = "\n".join(lines) + "\n"
    cut = text.index(lines[6]) + 40
    path.write_text(text[:cut])
    db = tmp_path / "t.duckdb"
    summary = ingest(db, path.parent)
    assert summary.quarantined == 0
    assert query(db, "SELECT count(*) FROM responses") == [(1,)]
    path.write_text(text)
    ingest(db, path.parent)
    assert query(db, "SELECT count(*), sum(output_tokens) FROM responses") == [(3, 40)]
    assert query(db, "SELECT count(*) FROM quarantine") == [(0,)]


def test_model_change_is_a_model_command_at_a_turn_boundary() -> None:
    lines = [
        *_parent_lines()[:4],
        _line(T + "06.000Z", "event_msg", {"type": "user_message", "message": "use the mini"}),
        _line(T + "06.100Z", "turn_context", {"model": "gpt-5.1-codex-mini"}),
        _count(T + "08.000Z", _usage(300, 80, 30), _usage(200, 80, 20)),
        _line(T + "08.100Z", "turn_context", {"model": "gpt-5.1-codex"}),
        _count(T + "09.000Z", _usage(400, 80, 40), _usage(100, 0, 10)),
        _line(T + "10.000Z", "compacted", {"message": "summary of the work"}),
        _line(T + "10.000Z", "event_msg", {"type": "context_compacted"}),
    ]
    batch = _parse(lines)
    ev = batch.events
    got = [(ev["kind"][i], ev["subtype"][i], ev["name"][i], ev["model"][i], ev["pre_tokens"][i])
           for i in range(len(ev["k"])) if ev["kind"][i] in ("command", "system")]  # fmt: skip
    assert got == [
        ("command", None, "/model", "gpt-5.1-codex-mini", None),
        ("system", "model_fallback", None, "gpt-5.1-codex", None),
        ("system", "compact_boundary", None, None, 100),
    ]
    assert batch.responses["model"] == ["gpt-5.1-codex", "gpt-5.1-codex-mini", "gpt-5.1-codex"]
    assert batch.responses["tier"] == ["large", "small", "large"]


def test_subagent_rows_belong_to_the_parent_session() -> None:
    spawn = {"subagent": {"thread_spawn": {"parent_thread_id": PARENT, "depth": 1, "agent_role": "explorer"}}}
    lines = [
        _meta(T + "30.000Z", FORK, T + "30.000Z", source=spawn),
        _line(T + "30.500Z", "event_msg", {"type": "user_message", "message": "spawn prompt from the parent"}),
        _line(T + "30.600Z", "turn_context", {"model": "gpt-5.1-codex-mini"}),
        _count(T + "35.000Z", _usage(100, 0, 10), _usage(100, 0, 10)),
    ]
    batch = _parse(lines)
    r = batch.responses
    assert (r["session_id"], r["agent_id"], r["is_sidechain"]) == ([PARENT], [FORK], [True])
    assert batch.agent_meta == [(FORK, PARENT, "explorer", None, None)]
    assert "prompt" not in batch.events.get("kind", [])


def test_split_reads_parse_as_one(corpus: Path) -> None:
    """The file state carries the running total, model and open calls between reads."""
    path = rollout(corpus, V0125)
    data = path.read_bytes()
    whole = parse_rollout(data, 0, str(path), FileState())
    state, offset, batches = FileState(), 0, []
    for stop in range(5, data.count(b"\n"), 37):
        end = _nth_newline(data, stop) + 1
        batches.append(parse_rollout(data[offset:end], offset, str(path), state))
        state = _roundtrip(state)
        offset = end
    batches.append(parse_rollout(data[offset:], offset, str(path), state))
    assert [k for b in batches for k in b.responses.get("k", [])] == whole.responses["k"]
    assert [k for b in batches for k in b.events.get("k", [])] == whole.events["k"]
    assert [e for b in batches for e in b.events.get("is_error", [])] == whole.events["is_error"]


def _roundtrip(state: FileState) -> FileState:
    import msgspec

    return msgspec.json.decode(msgspec.json.encode(state), type=FileState)
