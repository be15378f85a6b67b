"""The answer cache: a repeated report is answered before click or DuckDB load, and never from stale state.

Every run goes through the installed `tiermon` script in a subprocess under
`python -X importtime`; a run that imported no `duckdb` was answered by the
fast path. The truth for any state is the same command with the cache off.
"""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tiermon.ingest import answers, fingerprints
from tiermon.ingest.answer_recorder import Recorder
from tiermon.ingest.config import load_settings
from transcripts import assistant, prompt, usage, write

S1 = "11111111-aaaa-4bbb-8ccc-000000000001"
S2 = "22222222-aaaa-4bbb-8ccc-000000000002"
EXE = Path(sys.executable).with_name("tiermon")
OFF = {answers.SWITCH_ENV: "0"}


@dataclass
class Run:
    stdout: str
    cached: bool
    """True when the run imported no duckdb: the fast path answered."""


def tiermon(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    result = subprocess.run([sys.executable, "-X", "importtime", str(EXE), *args], capture_output=True, text=True,
                            env={**os.environ, "TZ": "UTC", **(env or {})}, cwd=cwd, timeout=120,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    imported = _imports(result.stderr)
    return Run(result.stdout, "duckdb" not in imported and "click" not in imported)


def _imports(importtime: str) -> set[str]:
    """Module names in `python -X importtime` output."""
    return {line.rsplit("|", 1)[1].strip() for line in importtime.splitlines() if line.startswith("import time:")}


def settle(*args: str, env: dict[str, str] | None = None) -> str:
    """Run twice: the second run must be the first's bytes, from the cache."""
    first = tiermon(*args, env=env)
    second = tiermon(*args, env=env)
    assert second.cached and second.stdout == first.stdout
    return second.stdout


def entries(home: Path) -> list[Path]:
    folder = home / "data" / "answers"
    return sorted(folder.glob("*.answer")) if folder.exists() else []


@dataclass
class Case:
    home: Path
    tmp: Path
    src: Path
    db: Path
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def args(self) -> list[str]:
        return ["--db", str(self.db), "--source", str(self.src), "report", "daily", "--json", *self.extra]

    @property
    def transcript(self) -> Path:
        return self.src / "projects" / "-home-dev-shop" / f"{S1}.jsonl"


@pytest.fixture
def case(tmp_path: Path, isolated_env: Path) -> Case:
    src = tmp_path / "claude"
    write(src / "projects" / "-home-dev-shop" / f"{S1}.jsonl", [
        prompt(S1, "u1", 0, "hello"),
        assistant(S1, "a1", 10, "m1", "r1", "claude-opus-4-6", usage(inp=100, out=200, read=1000, w5=50)),
        assistant(S1, "a2", 3600, "m2", "r2", "claude-haiku-4-5-20251001", usage(inp=10, out=20)),
        assistant(S1, "a3", 30 * 3600, "m3", "r3", "claude-sonnet-4-6", usage(inp=5, out=5)),
    ])  # fmt: skip
    write(src / "projects" / "-home-dev-blog" / f"{S2}.jsonl", [
        assistant(S2, "b1", 20, "n1", "q1", "claude-sonnet-4-6", usage(inp=7, out=9), cwd="/home/dev/blog"),
    ])  # fmt: skip
    return Case(isolated_env, tmp_path, src, tmp_path / "store" / "tiermon.duckdb")


def _api_log(path: Path) -> Path:
    line = {"ts": "2026-03-02T12:00:00Z", "request_id": "req_x1", "app": "bot",
            "response": {"id": "msg_x1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
                         "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
                         "usage": {"input_tokens": 40, "output_tokens": 60}}}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(line) + "\n")
    return path


def append_a_line(c: Case) -> None:
    write(c.transcript, [assistant(S1, "a4", 7200, "m4", "r4", "claude-opus-4-6", usage(inp=1, out=2))], mode="a")


def add_a_transcript(c: Case) -> None:
    s3 = "33333333-aaaa-4bbb-8ccc-000000000003"
    write(c.src / "projects" / "-home-dev-new" / f"{s3}.jsonl",
          [assistant(s3, "c1", 40, "o1", "p1", "claude-opus-4-6", usage())])  # fmt: skip


def delete_a_transcript(c: Case) -> None:
    (c.src / "projects" / "-home-dev-blog" / f"{S2}.jsonl").unlink()


def change_the_price_file(c: Case) -> None:
    (c.home / "config").mkdir(parents=True, exist_ok=True)
    (c.home / "config" / "prices.toml").write_text(
        'version = "test"\n[models."claude-opus-4-6"]\ntier = "opus"\ninput = 100\noutput = 500\n'
        "write_5m = 125\nwrite_1h = 200\ncache_read = 10\n"
    )


def change_the_config_file(c: Case) -> None:
    log = _api_log(c.tmp / "api" / "bot.jsonl")
    (c.home / "config").mkdir(parents=True, exist_ok=True)
    (c.home / "config" / "config.toml").write_text(f"[sources]\napi_logs = [{json.dumps(str(log))}]\n")


def pass_a_timezone(c: Case) -> None:
    c.extra = ["--timezone", "Asia/Tokyo"]


def set_tz(c: Case) -> None:
    c.env = {"TZ": "Asia/Tokyo"}


def pass_since(c: Case) -> None:
    c.extra = ["--since", "2026-03-03"]


def ingest_an_api_log_elsewhere(c: Case) -> None:
    log = _api_log(c.tmp / "api" / "bot.jsonl")
    subprocess.run([str(EXE), "--db", str(c.db), "--source", str(c.src), "--api-log", str(log), "ingest"],
                   capture_output=True, timeout=120, check=True)  # fmt: skip


CHANGES: list[Callable[[Case], None]] = [
    append_a_line, add_a_transcript, delete_a_transcript, change_the_price_file, change_the_config_file,
    pass_a_timezone, set_tz, pass_since, ingest_an_api_log_elsewhere,
]  # fmt: skip


@pytest.mark.parametrize("change", CHANGES, ids=[f.__name__ for f in CHANGES])
def test_every_change_shows_in_the_next_report(case: Case, change: Callable[[Case], None]) -> None:
    before = settle(*case.args())
    change(case)
    after = tiermon(*case.args(), env=case.env)
    assert not after.cached
    assert after.stdout == tiermon(*case.args(), env={**case.env, **OFF}).stdout
    if change is delete_a_transcript:
        assert after.stdout == before  # the store is the record: rows stay when their file goes
    else:
        assert json.loads(after.stdout) != json.loads(before)
    assert settle(*case.args(), env=case.env) == after.stdout


def test_repeat_is_byte_identical_and_skips_click_and_duckdb(case: Case) -> None:
    for extra in ([], ["--breakdown", "--by", "tier"]):
        case.extra = extra
        first = tiermon(*case.args())
        assert not first.cached
        assert tiermon(*case.args()).cached
        assert tiermon(*case.args()).stdout == first.stdout == tiermon(*case.args(), env=OFF).stdout
    for kind, fmt in (("session", "--csv"), ("model", "--json"), ("weekly", "--breakdown")):  # the table when piped
        args = ["--db", str(case.db), "--source", str(case.src), "report", kind, fmt]
        assert settle(*args) == tiermon(*args, env=OFF).stdout


def test_a_new_discovered_root_is_seen(case: Case) -> None:
    args = ["--db", str(case.db), "report", "model", "--json"]
    write(case.home / ".config" / "claude" / "projects" / "-p" / f"{S1}.jsonl",
          [assistant(S1, "a1", 10, "m1", "r1", "claude-opus-4-6", usage())])  # fmt: skip
    before = settle(*args)
    write(case.home / ".claude" / "projects" / "-q" / f"{S2}.jsonl",
          [assistant(S2, "b1", 10, "n1", "q1", "claude-haiku-4-5", usage())])  # fmt: skip
    after = tiermon(*args)
    assert not after.cached and after.stdout != before
    assert {m["model"] for m in json.loads(after.stdout)["models"]} == {"claude-opus-4-6", "claude-haiku-4-5"}


def test_relative_paths_are_answered_per_working_directory(case: Case) -> None:
    one, two = case.tmp / "one", case.tmp / "two"
    for where, n in ((one, 1), (two, 2)):
        write(where / "src" / "projects" / "-p" / f"{S1}.jsonl",
              [assistant(S1, f"a{i}", i, f"m{i}", f"r{i}", "claude-opus-4-6", usage()) for i in range(n)])  # fmt: skip
    args = ["--db", "x.duckdb", "--source", "src", "report", "daily", "--json"]
    for _ in range(2):
        for where, n in ((one, 1), (two, 2)):
            assert json.loads(tiermon(*args, cwd=where).stdout)["totals"]["requests"] == n


def test_damaged_entries_fall_back_to_the_full_cli(case: Case) -> None:
    good = settle(*case.args())
    (entry,) = entries(case.home)
    for damage in (lambda b: b[: len(b) // 2], lambda b: b[:-3] + b"xyz", lambda b: b"not json\n" + b, lambda b: b""):
        entry.write_bytes(damage(entry.read_bytes()))
        again = tiermon(*case.args())
        assert not again.cached and again.stdout == good
        assert tiermon(*case.args()).cached  # rewritten whole


def test_switched_off_never_reads_or_writes(case: Case) -> None:
    for _ in range(2):
        assert not tiermon(*case.args(), env=OFF).cached
    assert entries(case.home) == []
    truth = settle(*case.args())
    (path,) = entries(case.home)
    entry = answers.read_entry(str(path))
    assert entry is not None
    answers.write_entry(str(path), entry[0], '{"planted": true}\n')
    assert tiermon(*case.args()).stdout == '{"planted": true}\n'  # the entry is what a hit prints...
    assert tiermon(*case.args(), env=OFF).stdout == truth  # ...and switched off, it is not read


def test_blocks_and_other_commands_are_never_cached(case: Case) -> None:
    for args in (["report", "blocks", "--json"], ["report", "daily", "--json", "--help"], ["alerts", "--json"]):
        for _ in range(2):
            assert not tiermon("--db", str(case.db), "--source", str(case.src), *args).cached
    assert entries(case.home) == []


def test_a_terminal_table_is_not_cached(case: Case) -> None:
    args = ["--db", str(case.db), "--source", str(case.src), "report", "daily"]
    primary, secondary = pty.openpty()
    try:
        for _ in range(2):
            subprocess.run([str(EXE), *args], stdout=secondary, stderr=subprocess.PIPE, timeout=120, check=True)
    finally:
        os.close(secondary)
        os.close(primary)
    assert entries(case.home) == []
    settle(*args)  # piped, the same table is
    assert len(entries(case.home)) == 1


def test_entries_are_private(case: Case) -> None:
    settle(*case.args())
    (entry,) = entries(case.home)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    assert not list(entry.parent.glob("*.tmp"))


# -- in-process units ------------------------------------------------------------------


def test_the_fast_path_imports_only_the_standard_library() -> None:
    def imported(code: str) -> set[str]:
        run = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                             check=True)  # fmt: skip
        return _imports(run.stderr)

    extra = imported("import tiermon.entry, tiermon.ingest.answers") - imported("pass")
    foreign = {m for m in extra if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "tiermon"}
    assert foreign == set()
    assert "typing" not in extra and "hashlib" not in extra  # 2 ms each
    assert "tiermon.ingest.answer_recorder" not in extra


@pytest.mark.parametrize("argv", [
    ["report", "daily", "--json"], ["--db", "x", "report", "--json", "daily"], ["report", "model", "--csv", "--db=x"],
    ["--source", "a", "report", "weekly", "--source", "b", "--breakdown", "--by", "tier", "--since=20260101"],
    ["report", "session", "--timezone", "Europe/Berlin", "--api-log", "l"], ["report", "monthly"],
])  # fmt: skip
def test_cacheable_command_lines(argv: list[str]) -> None:
    assert answers.parse_request(argv) is not None


@pytest.mark.parametrize("argv", [
    ["report", "blocks", "--json"], ["alerts", "--json"], ["report", "daily", "--help"], ["report", "daily", "-h"],
    ["report", "daily", "--since", "a", "--since", "b"], ["--db", "a", "report", "daily", "--db", "b"],
    ["report", "daily", "--project", "--json"], ["report", "daily", "--since"], ["report", "daily", "weekly"],
    ["report"], ["--json", "report", "daily"], ["report", "daily", "--json=1"], ["--demo", "report", "daily"],
    ["report", "daily", "--", "--json"], ["report", "daily", "--unknown"], ["report", "report", "daily"],
])  # fmt: skip
def test_uncacheable_command_lines(argv: list[str]) -> None:
    assert answers.parse_request(argv) is None


def test_equivalent_command_lines_share_a_key() -> None:
    key = answers.request_key
    assert key(["report", "daily", "--json", "--db", "x"]) == key(["--db=x", "report", "--json", "daily"])
    assert key(["report", "daily", "--json", "--source", "a", "--source", "b"]) != key(
        ["report", "daily", "--json", "--source", "b", "--source", "a"])  # fmt: skip
    assert key(["report", "daily", "--json"], {**os.environ, answers.SWITCH_ENV: "0"}) is None


@pytest.mark.parametrize("env", [
    {"TIERMON_DATA_DIR": "/srv/tm"}, {"XDG_DATA_HOME": "/xdg/data"}, {"XDG_DATA_HOME": "relative/ignored"}, {},
])  # fmt: skip
def test_answers_live_in_the_settings_data_dir(env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:  # fmt: skip
    monkeypatch.delenv("TIERMON_DATA_DIR")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert answers.answers_dir() == str(load_settings().data_dir / "answers")


def _recorder(tmp_path: Path, db: Path, *, fresh: bool = False) -> Recorder:
    """A recorder that has fingerprinted an empty source and stat-ed the database for its query."""
    (tmp_path / "src").mkdir(exist_ok=True)
    db.write_bytes(b"x" * 100)
    if not fresh:
        os.utime(db, ns=(10**18, 10**18))
    recorder = Recorder("key", str(tmp_path / "config"))
    recorder.sources([tmp_path / "src"], [])
    recorder.before_query(db)
    return recorder


def test_a_database_written_during_the_query_stores_nothing(tmp_path: Path) -> None:
    db, stored = tmp_path / "db", answers.entry_path("key")
    quiet = _recorder(tmp_path, db)
    quiet.after_query()
    quiet.save("answer\n")
    assert answers.read_entry(stored) is not None
    os.unlink(stored)
    busy = _recorder(tmp_path, db)
    with db.open("r+b") as fh:  # same size, so only the timestamps tell
        fh.write(b"y")
    busy.after_query()
    busy.save("answer\n")
    assert not os.path.exists(stored)


def test_a_database_written_just_before_the_query_is_waited_out(tmp_path: Path) -> None:
    recorder = _recorder(tmp_path, tmp_path / "db", fresh=True)
    recorder.after_query()
    assert time.time_ns() - os.stat(tmp_path / "db").st_mtime_ns >= fingerprints.RACY_NS
    recorder.save("answer\n")
    assert answers.read_entry(answers.entry_path("key")) is not None


def test_a_fresh_stat_does_not_pin_a_file() -> None:
    now = 5 * 10**18 + 123_456_789
    assert fingerprints.racy_wait(None, now) == 0
    assert fingerprints.racy_wait([1, now - 1_000, now - 1_000, 1], now) == fingerprints.RACY_NS - 1_000
    assert fingerprints.racy_wait([1, now - fingerprints.RACY_NS, now - 1, 1], now) > 0  # a chmod counts too
    assert fingerprints.racy_wait([1, now - fingerprints.RACY_NS, now - fingerprints.RACY_NS, 1], now) == 0
    whole_seconds = now - now % 10**9
    assert fingerprints.racy_wait([1, whole_seconds, whole_seconds, 1], now) > 0  # coarse file system


def test_eviction_keeps_the_most_recently_used(tmp_path: Path) -> None:
    folder = tmp_path / "answers"
    for i in range(5):
        answers.write_entry(str(folder / f"{i}.answer"), {}, str(i))
        os.utime(folder / f"{i}.answer", ns=(10**18 + i, 10**18 + i))
    os.utime(folder / "0.answer")  # just used
    answers.evict(str(folder), keep=3)
    assert sorted(p.name for p in folder.iterdir()) == ["0.answer", "3.answer", "4.answer"]
