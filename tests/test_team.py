"""The team sink against a real PostgreSQL started on loopback (tests/pg.py): push, report, redaction, roles."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest
from textual.app import App
from textual.screen import Screen

import transcripts as tx
from conftest import CliResult
from tiermon.ingest.config import Settings, load_settings
from tiermon.ingest.team import mask_url, push as push_module, push_settings, redact_signal

if TYPE_CHECKING:
    from pg import PgServer, TeamDb

pytest_plugins = ["pg"]

SECRET = "sk-ant-api03-PLANTED-Secret-7f3c9e"
"""Planted in prompts, tool calls, tool results and answers: it must never reach the server."""
DAY = 86_400
OPUS, SONNET, HAIKU = "claude-opus-4-6", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"
UNPRICED = "claude-zephyr-9"
"""A model genai-prices does not know (it prices claude-fable-5-1)."""

SESSIONS: dict[str, dict[str, Any]] = {
    "s1": {"at": -7 * DAY, "cwd": "/home/alice/clients/acme/shop", "branch": "main", "models": [OPUS, SONNET, OPUS]},
    "s2": {"at": -6 * DAY + 3600, "cwd": "/home/dev/api", "branch": "feat/login", "models": [SONNET, SONNET]},
    "s3": {"at": 1 * DAY, "cwd": "/home/dev/shop", "branch": "main", "models": [HAIKU, SONNET, UNPRICED]},
    "s4": {"at": 2 * DAY + 7200, "cwd": "/srv/web", "branch": "fix/cache", "models": [OPUS]},
}
"""Two weeks of sessions: the week of 2026-02-23 and the week of 2026-03-02 (T0, a Monday)."""


def sid(name: str) -> str:
    return f"{name}0000-1111-4222-8333-{hashlib.md5(name.encode()).hexdigest()[:12]}"


def tool_result(session: str, uuid: str, at: float, tool_use_id: str, text: str, **env: Any) -> dict[str, Any]:
    e = tx.envelope(session, uuid, at, **env)
    e.update({"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tool_use_id, "content": text, "is_error": True}]}})  # fmt: skip
    return e


def session_entries(name: str, *, partial_last: bool = False, extra_output: int = 0) -> list[dict[str, Any]]:
    """A session with a secret-bearing prompt, tool calls and results, placeholder copies and a subagent."""
    spec = SESSIONS[name]
    s, at, env = sid(name), spec["at"], {"cwd": spec["cwd"], "branch": spec["branch"]}
    out = [tx.prompt(s, f"{name}-u0", at, f"deploy with key {SECRET} please", **env)]
    for i, model in enumerate(spec["models"]):
        msg, req, t = f"msg_{name}_{i}", f"req_{name}_{i}", at + 60 * (i + 1)
        out.append(tx.assistant(s, f"{name}-a{i}p", t, msg, req, model, tx.usage(20, 1, read=4000, w5=300),
                                {"type": "text", "text": f"I will use {SECRET}"}, **env))  # fmt: skip
        if partial_last and i == len(spec["models"]) - 1:
            continue
        tool = {"type": "tool_use", "id": f"tu_{name}_{i}", "name": "Bash", "input": {"command": f"deploy --key {SECRET}"}}
        usage = tx.usage(20, 200 + 10 * i + extra_output, read=4000, w5=300)
        out.append(tx.assistant(s, f"{name}-a{i}f", t + 1, msg, req, model, usage, tool, **env))
        out.append(tool_result(s, f"{name}-r{i}", t + 2, f"tu_{name}_{i}", f"error: bad key {SECRET}", **env))
    out.append(tx.assistant(s, f"{name}-side", at + 30, f"msg_{name}_side", f"req_{name}_side", HAIKU,
                            tx.usage(50, 80), sidechain=True, **env))  # fmt: skip
    return out


@dataclass
class Member:
    """One developer's machine: config (user, machine), transcripts and local store."""

    user: str
    machine: str
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "data" / "tiermon.duckdb"

    @property
    def source(self) -> Path:
        return self.root / "claude"

    def write(self, name: str, **kwargs: Any) -> Path:
        path = self.source / "projects" / f"-{name}" / f"{sid(name)}.jsonl"
        tx.write(path, session_entries(name, **kwargs))
        return path

    def env(self, url: str | None) -> dict[str, str]:
        config = self.root / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text(f'[team]\nuser = "{self.user}"\nmachine = "{self.machine}"\n')
        env = {"TIERMON_CONFIG_DIR": str(config), "TIERMON_DATA_DIR": str(self.root / "data")}
        env["TIERMON_TEAM_URL"] = url or ""
        return env

    def args(self, *args: str) -> list[str]:
        return ["--db", str(self.db), "--source", str(self.source), *args]

    def settings(self, url: str) -> Settings:
        return load_settings(db=self.db, sources=[self.source], env=self.env(url))

    def local_keys(self) -> dict[str, int]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return dict(con.execute("SELECT k, output_tokens FROM responses").fetchall())


@pytest.fixture
def members(tmp_path: Path) -> Callable[[str], Member]:
    def make(user: str) -> Member:
        return Member(user, f"{user}-laptop", tmp_path / user)

    return make


Tiermon = Callable[..., CliResult]


def run(tiermon: Tiermon, member: Member, url: str | None, *args: str, check: bool = True) -> CliResult:
    return tiermon(*member.args(*args), env=member.env(url), check=check)


def run_json(tiermon: Tiermon, member: Member, url: str | None, *args: str) -> Any:
    return json.loads(run(tiermon, member, url, *args).stdout)


def no_password(server: PgServer, *outputs: str) -> None:
    for text in outputs:
        for secret in server.passwords.values():
            assert secret not in text


# -- push ------------------------------------------------------------------------------


def bulk_entries(seed: int, count: int = 3000) -> list[dict[str, Any]]:
    """Many responses shared by every member, each member's copy of a key with a different output."""
    s = sid("bulk")
    return [tx.assistant(s, f"bulk-{seed}-{i}", i, f"msg_bulk_{i}", f"req_bulk_{i}", SONNET,
                         tx.usage(10, 100 + (i * seed) % 97), cwd="/home/dev/bulk") for i in range(count)]  # fmt: skip


def test_concurrent_overlapping_pushes_keep_one_row_per_response(
    team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    crew = {"alice": ("s1", "s2"), "bob": ("s2", "s3"), "carol": ("s1", "s3", "s4"), "dave": ("s1", "s2", "s3")}
    people = []
    for seed, (user, names) in enumerate(crew.items(), start=3):
        m = members(user)
        for name in names:
            # bob and dave hold placeholder-only copies of one response each: the server must keep the larger copy
            m.write(name, partial_last=(user, name) in {("bob", "s2"), ("dave", "s1")})
        tx.write(m.source / "projects" / "-bulk" / f"{sid('bulk')}.jsonl", bulk_entries(seed))
        run(tiermon, m, None, "ingest")
        people.append(m)
    # every member pushes from two processes at once, all eight racing on a database without tables yet; a
    # member's two pushes also share one local store, and one may hold it for seconds on a loaded CI machine
    # (3 s, the suite's lock wait, once ran out): what is tested here is the server's upsert, not that wait
    exe = str(Path(sys.executable).with_name("tiermon"))
    env = {**os.environ, "TIERMON_LOCK_WAIT": "60"}
    procs = [subprocess.Popen([exe, *m.args("team", "push", "--json")], env={**env, **m.env(team_db.push_url)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for m in people * 2]  # fmt: skip
    results = [(*p.communicate(timeout=180), p.returncode) for p in procs]
    for out, err, code in results:
        assert code == 0, err
        no_password(team_db.server, out, err)
    expected: dict[str, int] = {}
    for m in people:
        for k, output in m.local_keys().items():
            expected[k] = max(expected.get(k, 0), output)
    rows = team_db.query("SELECT k, output_tokens FROM tiermon.responses")
    assert len(rows) == len(expected) == len({k for k, _ in rows}) > 3000
    assert dict(rows) == expected
    assert dict(rows)["msg_s2_1:req_s2_1"] == 210 and dict(rows)["msg_s1_2:req_s1_2"] == 220
    assert {r[0] for r in team_db.query("SELECT DISTINCT user_name FROM tiermon.responses")} <= set(crew)
    sent = sum(json.loads(out)["responses_sent"] for out, _, _ in results)
    assert sent >= sum(len(m.local_keys()) for m in people)
    for m in people:  # and afterwards each machine knows it has nothing left to send
        assert run_json(tiermon, m, team_db.push_url, "team", "push", "--json")["responses_sent"] == 0


def test_repeated_push_sends_nothing_and_a_grown_response_is_sent_again(
    team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    alice = members("alice")
    path = alice.write("s3", partial_last=True)
    first = run_json(tiermon, alice, team_db.push_url, "team", "push", "--json")
    assert first["responses_sent"] == first["responses_stored"] == len(alice.local_keys()) == 4
    before = team_db.query("SELECT k, xmin::text, pushed_at FROM tiermon.responses ORDER BY k")

    again = run_json(tiermon, alice, team_db.push_url, "team", "push", "--json")
    assert again["responses_sent"] == again["signals_sent"] == 0
    assert team_db.query("SELECT k, xmin::text, pushed_at FROM tiermon.responses ORDER BY k") == before
    assert "Nothing new" in run(tiermon, alice, team_db.push_url, "team", "push").stdout

    # the final copy of the last response arrives, and a new session starts
    tx.write(path, [e for e in session_entries("s3") if e.get("uuid") == "s3-a2f"], mode="a")
    alice.write("s4")
    grown = run_json(tiermon, alice, team_db.push_url, "team", "push", "--json")
    assert grown["responses_sent"] == 1 + 2  # the grown response, s4's response and its subagent
    output = team_db.query("SELECT output_tokens FROM tiermon.responses WHERE k = 'msg_s3_2:req_s3_2'")
    assert output == [(220,)]
    assert team_db.query("SELECT count(*) FROM tiermon.responses") == [(6,)]


def test_a_smaller_copy_never_replaces_a_larger_one(team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon) -> None:
    full, partial = members("alice"), members("bob")
    full.write("s2")
    partial.write("s2", partial_last=True)
    run(tiermon, full, team_db.push_url, "team", "push")
    result = run_json(tiermon, partial, team_db.push_url, "team", "push", "--json")
    assert result["responses_sent"] == 3 and result["responses_stored"] == 0
    assert team_db.query("SELECT output_tokens, user_name FROM tiermon.responses WHERE k = 'msg_s2_1:req_s2_1'") == [
        (210, "alice")
    ]


def test_push_every_keeps_going_after_an_unreachable_server(
    team_db: TeamDb, members: Callable[[str], Member]
) -> None:
    alice = members("alice")
    alice.write("s2")
    exe = str(Path(sys.executable).with_name("tiermon"))
    cases = ((team_db.push_url, "stdout", "Pushed 3 responses"),
             ("postgresql://alice:pw-Never-Shown@127.0.0.1:1/team", "stderr", "tiermon: error: cannot reach"))  # fmt: skip
    for url, stream, expected in cases:
        proc = subprocess.Popen([exe, *alice.args("team", "push", "--every", "5")], env={**os.environ, **alice.env(url)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            line = getattr(proc, stream).readline()
            assert proc.poll() is None  # still running: the loop survives a failed round
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        assert line.startswith(expected) and "pw-Never-Shown" not in line


# -- reports -----------------------------------------------------------------------------


def _pushed_pair(team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon) -> tuple[Member, Member]:
    alice, bob = members("alice"), members("bob")
    for name in ("s1", "s3"):
        alice.write(name)
    for name in ("s2", "s4"):
        bob.write(name)
    for m in (alice, bob):
        run(tiermon, m, team_db.push_url, "team", "push")
    return alice, bob


FIGURES = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
           "cache_write_1h_tokens", "unpriced_requests")  # fmt: skip


def test_team_totals_equal_the_sum_of_the_members_local_reports(
    team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    alice, bob = _pushed_pair(team_db, members, tiermon)
    for kind in ("model", "weekly", "session", "daily"):
        local = [run_json(tiermon, m, None, "report", kind, "--json", "--timezone", "UTC")["totals"] for m in (alice, bob)]
        team = run_json(tiermon, alice, team_db.push_url, "team", "report", kind, "--json", "--timezone", "UTC")["totals"]
        for figure in FIGURES:
            assert team[figure] == sum(t[figure] for t in local), (kind, figure)
        assert team["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in local), abs=1e-5)
        assert [m["model"] for m in team["unpriced_models"]] == [UNPRICED]

    by_user = run_json(tiermon, alice, team_db.push_url, "team", "report", "weekly", "--json", "--by", "user",
                       "--timezone", "UTC")["weekly"]  # fmt: skip
    for m in (alice, bob):
        mine = run_json(tiermon, m, None, "report", "weekly", "--json", "--timezone", "UTC")["weekly"]
        theirs = [{k: v for k, v in r.items() if k != "group"} for r in by_user if r["group"] == m.user]
        assert theirs == mine
    machines = run_json(tiermon, bob, team_db.push_url, "team", "report", "model", "--json", "--by", "machine")
    assert {r["group"] for r in machines["models"]} == {"alice-laptop", "bob-laptop"}


def _basename(row: dict[str, Any], by_project: bool) -> dict[str, Any]:
    """A local row as the team sees it: the project's folder name only, no signals (they differ in source)."""
    out = {k: v for k, v in row.items() if k not in ("user", "machine", "subagents", "switches")}
    for key in ("project", "group") if by_project else ("project",):
        if out.get(key):
            out[key] = out[key].rstrip("/").rsplit("/", 1)[-1]
    return out


@pytest.mark.parametrize("args", [
    ("daily",), ("weekly", "--breakdown", "--by", "tier"), ("monthly", "--by", "project"),
    ("session", "--breakdown"), ("session", "--by", "agent-type"), ("model", "--by", "branch"),
    ("blocks",), ("model", "--tier", "sonnet", "--since", "2026-03-01"), ("daily", "--project", "shop"),
])  # fmt: skip
def test_team_report_keeps_the_report_json_contract(
    team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon, args: tuple[str, ...]
) -> None:
    alice = members("alice")
    for name in SESSIONS:
        alice.write(name)
    run(tiermon, alice, team_db.push_url, "team", "push")
    common = ("--json", "--timezone", "Europe/Berlin")
    local = run_json(tiermon, alice, None, "report", *args, *common)
    team = run_json(tiermon, alice, team_db.push_url, "team", "report", *args, *common)
    assert list(team) == list(local)
    key = next(k for k in local if k != "totals")
    assert team["totals"] == local["totals"]
    by_project = "project" in args
    mine = [_basename(r, by_project) for r in local[key]]
    theirs = [_basename(r, by_project) for r in team[key]]
    if by_project or key == "models":  # folder names regroup rows; equal-cost models have no set order
        mine.sort(key=lambda r: json.dumps(r, sort_keys=True))
        theirs.sort(key=lambda r: json.dumps(r, sort_keys=True))
    assert theirs == mine
    if key == "sessions":
        for row in team[key]:
            assert row["user"] == "alice" and row["machine"] == "alice-laptop"
            assert isinstance(row["subagents"], list) and isinstance(row["switches"], list)
        assert any(a["tier"] == "haiku" and a["requests"] == 1 for r in team[key] for a in r["subagents"])


def test_team_report_table_and_csv(team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon) -> None:
    alice, _ = _pushed_pair(team_db, members, tiermon)
    table = run(tiermon, alice, team_db.push_url, "team", "report", "weekly", "--by", "user").stdout
    assert "alice" in table and "bob" in table and "estimates at list price" in table
    csv = run(tiermon, alice, team_db.push_url, "team", "report", "session", "--csv").stdout
    assert csv.splitlines()[0].startswith("session_id,") and len(csv.splitlines()) > 4


def test_team_report_accepts_every_report_option() -> None:
    from tiermon.tui.commands.report import report
    from tiermon.tui.commands.team import report as team_report

    def options(command: Any) -> dict[str, Any]:
        return {p.name: p for p in command.params}

    local, team = options(report), options(team_report)
    assert set(local) <= set(team)
    assert set(local["by"].type.choices) | {"user", "machine"} == set(team["by"].type.choices)
    assert local["kind"].type.choices == team["kind"].type.choices


# -- redaction -------------------------------------------------------------------------


def _text_hits(team_db: TeamDb, needle: str) -> list[str]:
    """Every text-like column of every table outside the system schemas that holds `needle`."""
    columns = team_db.query(
        """SELECT table_schema, table_name, column_name FROM information_schema.columns
           WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_%%'
             AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')"""
    )
    assert columns
    hits = []
    for schema, table, column in columns:
        found = team_db.query(f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}"::text ILIKE %s', [f"%{needle}%"])
        if found[0][0]:
            hits.append(f"{schema}.{table}.{column}")
    tables = team_db.query("SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'tiermon'")
    for schema, table in tables:  # the whole row as text, whatever its column types
        if team_db.query(f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text ILIKE %s', [f"%{needle}%"])[0][0]:
            hits.append(f"{schema}.{table}")
    return hits


def test_a_secret_in_a_prompt_never_reaches_the_server(
    team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    alice = members("alice")
    for name in SESSIONS:
        alice.write(name)
    run(tiermon, alice, team_db.push_url, "team", "push")
    assert team_db.query("SELECT count(*) FROM tiermon.responses")[0][0] > 0
    assert _text_hits(team_db, SECRET) == []
    assert _text_hits(team_db, "PLANTED") == []
    projects = {r[0] for r in team_db.query("SELECT DISTINCT project FROM tiermon.responses")}
    assert projects == {"shop", "api", "web"}  # folder names only: no home paths, no client names


def test_signal_text_is_dropped_and_figures_kept(
    team_db: TeamDb, members: Callable[[str], Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = members("alice")
    alice.write("s1")
    s = sid("s1")
    start = datetime(2026, 2, 23, 9, 2)
    views = types.ModuleType("tiermon.ingest.signals.views")
    views.list_alerts = lambda store, since=None, until=None, session=None, kind=None, limit=500: [  # type: ignore[attr-defined]
        {"k": f"{s}:thrash:main:{start.isoformat()}:{SECRET}", "session_id": s, "project": f"/home/{SECRET}",
         "kind": "thrash", "severity": "warn", "start": start, "end": start + timedelta(minutes=3), "turn": 1,
         "agent_id": None, "message": f"ran `deploy --key {SECRET}` 3 times",
         "figures": {"repeats": 3, "cost_usd": 0.42, "command": f"deploy --key {SECRET}", f"/{SECRET}": 1,
                     "model": OPUS, "tier": f"opus {SECRET}"}},
    ]  # fmt: skip
    views.list_advice = lambda store, **kw: [  # type: ignore[attr-defined]
        {"session_id": s, "project": "/home/x", "kind": "de-escalate", "from_tier": "opus", "to_tier": "haiku",
         "to_model": HAIKU, "turn": 1, "start": start.isoformat() + "Z", "end": start, "cost_usd": 1.5,
         "counterfactual_cost_usd": 0.3, "saving_usd": 1.2, "reason": f"simple turn: {SECRET}", "figures": {}},
    ]  # fmt: skip
    views.session_switches = lambda store, ids: {s: [  # type: ignore[attr-defined]
        {"at": start, "from_model": OPUS, "to_model": SONNET, "from_tier": "opus", "to_tier": "sonnet",
         "direction": "down", "cause": "automatic", "detail": SECRET, "turn": 1}]}  # fmt: skip
    monkeypatch.setattr(push_module, "views", views)  # the push reads signals through this module

    result = push_settings(alice.settings(team_db.push_url))
    assert result.signals_available and result.signals_sent == 3
    assert _text_hits(team_db, SECRET) == [] and _text_hits(team_db, "PLANTED") == []
    rows = team_db.query("SELECT signal, kind, severity, start_ts, figures FROM tiermon.signals ORDER BY signal")
    by_signal = {r[0]: r for r in rows}
    assert by_signal["alert"][1:4] == ("thrash", "warn", start)
    assert by_signal["alert"][4] == {"repeats": 3, "cost_usd": 0.42, "model": OPUS}
    assert by_signal["advice"][4] == {"saving_usd": 1.2, "to_model": HAIKU}
    assert by_signal["switch"][4] == {"from_model": OPUS, "to_model": SONNET, "direction": "down", "cause": "automatic"}
    assert push_settings(alice.settings(team_db.push_url)).signals_sent == 0


def test_redact_signal_refuses_rows_without_an_id() -> None:
    assert redact_signal("alert", {"kind": "thrash"}, "u", "m") is None
    assert redact_signal("alert", {"session_id": "has space", "kind": "thrash"}, "u", "m") is None


# -- roles, errors, credentials ----------------------------------------------------------


def test_read_only_role_reports_but_cannot_push(team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon) -> None:
    _pushed_pair(team_db, members, tiermon)
    lead = members("lead")
    mine = run_json(tiermon, lead, team_db.push_url, "team", "report", "model", "--json")
    theirs = run_json(tiermon, lead, team_db.view_url, "team", "report", "model", "--json")
    assert theirs == mine and theirs["totals"]["requests"] > 0

    lead.write("s1")
    refused = run(tiermon, lead, team_db.view_url, "team", "push", check=False)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and refused.stdout == ""
    assert refused.stderr.startswith("tiermon: error: role 'tiermon_view' can read the team database but not write")
    no_password(team_db.server, refused.stdout, refused.stderr)
    assert not lead.db.exists()  # refused before anything was read into the local store


def test_unreachable_server_is_one_line_and_leaves_the_store_untouched(
    members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    alice = members("alice")
    alice.write("s1")
    run(tiermon, alice, None, "ingest")
    before = (alice.db.read_bytes(), alice.db.stat().st_mtime_ns)
    secret = "hunter2-Very-Secret"
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://alice:{secret}@127.0.0.1:{port}/team?connect_timeout=3"
    for args in (("team", "push"), ("team", "report", "daily")):
        result = run(tiermon, alice, url, *args, check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
        assert result.stderr.startswith(f"tiermon: error: cannot reach the team database postgresql://alice:***@127.0.0.1:{port}/team")
        assert secret not in result.stderr
    assert (alice.db.read_bytes(), alice.db.stat().st_mtime_ns) == before


def test_wrong_password_and_missing_setup_are_one_line(
    team_db: TeamDb, pg_server: PgServer, members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    alice = members("alice")
    alice.write("s1")
    wrong = team_db.push_url_with("not-the-Password-123")
    result = run(tiermon, alice, wrong, "team", "push", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "password authentication failed" in result.stderr and "not-the-Password-123" not in result.stderr

    empty = run(tiermon, alice, team_db.view_url, "team", "report", "weekly", check=False)
    assert empty.returncode == 2 and empty.stderr.count("\n") == 1
    assert "run `tiermon team push` first" in empty.stderr
    no_password(pg_server, empty.stderr)

    unset = run(tiermon, alice, None, "team", "push", check=False)
    assert unset.returncode == 2 and "TIERMON_TEAM_URL" in unset.stderr and unset.stderr.count("\n") == 1


def test_a_role_that_may_create_tables_sets_the_schema_up_itself(
    pg_server: PgServer, members: Callable[[str], Member], tiermon: Tiermon
) -> None:
    name = "team_selfsetup"
    with pg_server.admin() as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        con.execute(f"CREATE DATABASE {name} OWNER tiermon_push")
    try:
        alice = members("alice")
        alice.write("s2")
        url = pg_server.url("tiermon_push", name)
        assert run_json(tiermon, alice, url, "team", "push", "--json")["responses_sent"] == 3
        assert run_json(tiermon, alice, url, "team", "report", "model", "--json")["totals"]["requests"] == 3
    finally:
        with pg_server.admin() as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("url, masked", [
    ("postgresql://bob:s3cr%40t@db.example:5432/team", "postgresql://bob:***@db.example:5432/team"),
    ("postgres://bob@db/team", "postgres://bob@db/team"),
    ("host=db user=bob password=s3cret dbname=team", "host=db user=bob password=*** dbname=team"),
    ("host=db password='a b c' dbname=team", "host=db password=*** dbname=team"),
    ("postgresql://db/team?user=bob&password=s3cret&sslmode=require",
     "postgresql://db/team?user=bob&password=***&sslmode=require"),
])  # fmt: skip
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# -- the Team screen -----------------------------------------------------------------------


class ScreenHost(App[None]):
    """A tiny app that opens one screen over its default screen, as the dashboard will."""

    def __init__(self, screen: Screen[None]) -> None:
        super().__init__()
        self._first = screen

    def on_mount(self) -> None:
        self.push_screen(self._first)


async def test_team_screen_shows_people_weeks_alerts_and_advice(
    team_db: TeamDb, members: Callable[[str], Member], tiermon: Tiermon, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.widgets import DataTable, Static

    from tiermon.tui.screens.team import TeamScreen

    alice, bob = members("alice"), members("bob")
    alice.write("s1"), alice.write("s3"), bob.write("s2"), bob.write("s4")
    start = datetime(2026, 3, 3, 10, 0)
    views = types.ModuleType("tiermon.ingest.signals.views")
    views.list_alerts = lambda store, **kw: [  # type: ignore[attr-defined]
        {"session_id": sid("s3"), "kind": "thrash", "severity": "warn", "start": start, "end": start, "figures": {}}]
    views.list_advice = lambda store, **kw: [  # type: ignore[attr-defined]
        {"session_id": sid("s3"), "kind": "de-escalate", "from_tier": "opus", "to_tier": "haiku", "turn": 2,
         "start": start, "end": start, "cost_usd": 2.0, "counterfactual_cost_usd": 0.4, "figures": {}}]  # fmt: skip
    views.session_switches = lambda store, ids: {}  # type: ignore[attr-defined]
    real_views = sys.modules["tiermon.ingest.signals.views"]
    monkeypatch.setattr(push_module, "views", views)
    push_settings(alice.settings(team_db.push_url))
    monkeypatch.setattr(push_module, "views", real_views)
    run(tiermon, bob, team_db.push_url, "team", "push")

    now = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    app = ScreenHost(TeamScreen(alice.settings(team_db.view_url), clock=lambda: now, tz="UTC"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TeamScreen) and screen.overview is not None
        people = {p["user"]: p for p in screen.overview.people}
        assert set(people) == {"alice", "bob"}
        assert people["alice"]["this_week"] > 0 and people["bob"]["last_week"] > 0
        assert people["bob"]["change_usd"] == pytest.approx(people["bob"]["this_week"] - people["bob"]["last_week"])
        weekly = screen.query_one("#weekly-table", DataTable)
        assert weekly.row_count == 4  # two people, two projects each, one per week
        assert {(w["user"], w["project"]) for w in screen.overview.weekly} == {("alice", "shop"), ("bob", "api"), ("bob", "web")}
        assert screen.query_one("#people-table", DataTable).row_count == 2
        assert screen.query_one("#alerts-table", DataTable).row_count == 1
        assert screen.query_one("#advice-table", DataTable).row_count == 1
        assert screen.overview.advice[0]["saving_usd"] == pytest.approx(1.6)
        assert screen.overview.advice[0]["project"] == "shop"
        assert screen.query_one("#members-table", DataTable).row_count == 2
        status = str(screen.query_one("#team-status", Static).render())
        assert "Week of 2026-03-02" in status and "estimates at list price" in status
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.query_one("#people-table", DataTable).row_count == 2


async def test_team_screen_says_plainly_when_it_cannot_read(members: Callable[[str], Member]) -> None:
    from textual.widgets import Static

    from tiermon.tui.screens.team import NOT_CONFIGURED, TeamScreen

    alice = members("alice")
    url = "postgresql://alice:Hidden-pw-99@127.0.0.1:1/team?connect_timeout=2"

    for team_url, expected in ((None, NOT_CONFIGURED), (url, "cannot reach the team database")):
        app = ScreenHost(TeamScreen(replace(alice.settings(url), team_url=team_url), tz="UTC"))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            status = str(app.screen.query_one("#team-status", Static).render())
            assert expected in status and "Hidden-pw-99" not in status
            assert app.screen.query_one("#team-status").has_class("-error")
            await pilot.press("escape")
            assert not isinstance(app.screen, TeamScreen)
