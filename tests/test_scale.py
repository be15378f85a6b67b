"""Ingest at scale: bounded memory on huge lines, bounded open files, parallel = serial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from tiermon.ingest import backfill
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary
from transcripts import assistant, prompt, usage

REPO = Path(__file__).resolve().parent.parent
S = "11111111-2222-3333-4444-555555555555"


def _run_python(code: str, env: dict[str, str] | None = None) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


_INGEST_AND_MEASURE = """
import json, resource, sys
from pathlib import Path
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor

def hwm_mb():  # this process's own peak (ru_maxrss would include the parent's, inherited over exec)
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return int(status["VmHWM"].split()[0]) / 1024

ingestor = Ingestor(load_settings(db=Path(DB), sources=[Path(SOURCE)]))  # the price table: a fixed cost, not the file's
base = hwm_mb()
summary = ingestor.run()
print(json.dumps({
    "base_mb": base, "peak_mb": hwm_mb(), "workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "responses": summary.responses, "quarantined": summary.quarantined, "lines": summary.lines,
}))
"""


def _tool_result(i: int, size: int) -> dict[str, object]:
    entry = prompt(S, f"r{i}", i, "")
    entry["message"] = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "z" * size}]}
    entry["toolUseResult"] = {"stdout": "z" * size, "stderr": "", "interrupted": False}
    return entry


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
def test_huge_line_and_many_mid_size_lines_ingest_in_bounded_memory(tmp_path: Path) -> None:
    """A 50 MB progress line and ~200 MB of tool results in one file: memory stays far below its size."""
    f = tmp_path / "claude" / "projects" / "-home-dev-big" / f"{S}.jsonl"
    f.parent.mkdir(parents=True)
    with f.open("w") as fh:
        huge = {"type": "progress", "sessionId": S, "data": {"type": "bash_progress", "fullOutput": "y" * 50_000_000}}
        fh.write(json.dumps(huge) + "\n")
        for i in range(10_000):
            fh.write(json.dumps(_tool_result(i, 10_000)) + "\n")
            if i % 5 == 0:
                fh.write(json.dumps(assistant(S, f"a{i}", i, f"msg_{i}", f"req_{i}", "claude-haiku-4-5", usage(out=i))) + "\n")
    size_mb = f.stat().st_size / 1e6
    assert size_mb > 240
    code = _INGEST_AND_MEASURE.replace("DB", repr(str(tmp_path / "db.duckdb"))).replace("SOURCE", repr(str(tmp_path / "claude")))
    got = _run_python(code)
    assert got["responses"] == 2000 and got["quarantined"] == 0 and got["lines"] == 12_001
    # Reads go in bounded pieces and only extracted rows are kept. The growth is the store's own
    # working memory (~50 MB), the 50 MB line itself and a few chunks: reading the file whole
    # would need more than its 256 MB.
    grew = got["peak_mb"] - got["base_mb"]
    assert grew < 180, f"ingest grew by {grew:.0f} MB on a {size_mb:.0f} MB file"


def test_thousands_of_files_keep_few_files_open(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "claude" / "projects"
    line = json.dumps(assistant(S, "a", 1, "msg", "req", "claude-haiku-4-5", usage(out=5)))
    for i in range(2000):
        p = root / f"-p{i % 20}" / f"{i:05d}.jsonl"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(line.replace('"msg"', f'"msg_{i}"').replace('"a"', f'"a{i}"') + "\n")
    baseline = len(os.listdir("/proc/self/fd"))
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, len(os.listdir("/proc/self/fd")))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        summary = Ingestor(load_settings(db=db, sources=[tmp_path / "claude"])).run()
    finally:
        stop.set()
        sampler.join()
    assert summary.files_read == 2000 and summary.responses == 2000
    assert peak - baseline <= 8, f"{peak - baseline} more files open than before the pass"


def _table(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with Store.open(db, read_only=True) as store:
        return [tuple(r) for r in store.query(sql)]


def _parallel_settings(m: pytest.MonkeyPatch) -> None:
    m.setattr(backfill, "PARALLEL_MIN_BYTES", 0)
    m.setattr(backfill, "TASK_BYTES", 64 * 1024)  # many tasks, big files alone
    m.setattr(backfill, "MESSAGE_BYTES", 256 * 1024)  # several messages per big file (forked workers see it)
    m.setattr(backfill, "READ_BYTES", 128 * 1024)
    m.setattr(backfill, "COMMIT_ROWS", 500)  # several commits
    m.setenv("TIERMON_WORKERS", "2")


def _ingest(
    sources: Path, db: Path, *, parallel: bool, monkeypatch: pytest.MonkeyPatch, fork: bool = True
) -> IngestSummary:
    """One pass; with `fork=False` from a thread, the way the dashboard runs its passes."""
    with monkeypatch.context() as m:
        if parallel:
            _parallel_settings(m)
        else:
            m.setenv("TIERMON_WORKERS", "0")
        config = db.parent / f"{db.stem}-config"  # a user rule the workers must apply as this process does
        config.mkdir(parents=True, exist_ok=True)
        (config / "models.toml").write_text('[[model]]\nmatch = "claude-haiku-*"\nvendor = "acme"\ntier = "mid"\n')
        env = {**os.environ, "TIERMON_CONFIG_DIR": str(config), "TIERMON_DATA_DIR": str(db.parent / f"{db.stem}-data")}
        ingestor = Ingestor(load_settings(db=db, sources=[sources], env=env))
        if fork:
            return ingestor.run()
        failures: list[BaseException] = []
        summaries: list[IngestSummary] = []

        def run() -> None:
            try:
                summaries.append(ingestor.run(fork=False))
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(timeout=120)
        assert not thread.is_alive() and not failures, failures
        return summaries[0]


def _generated(tmp_path: Path) -> Path:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import corpus as generator
    finally:
        sys.path.pop(0)
    root = tmp_path / "generated"
    generator.generate(root, 6_000_000, seed=3)
    return root


@pytest.mark.parametrize(("which", "fork"), [("corpus", True), ("generated", True), ("generated", False)])
def test_parallel_backfill_writes_exactly_what_the_serial_path_writes(
    which: str, fork: bool, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table, on the real corpus and on generated data with resumed-session copies; with
    forked workers, and with spawned ones run from a thread, as the dashboard runs its first load.

    Of an event that two files repeat (a resumed session), the store keeps the
    copy read first, so only its place (file, offset) may differ between paths.
    """
    if which == "corpus":
        source = tmp_path / "corpus"
        import shutil

        shutil.copytree(corpus, source)
        partial = next(source.rglob("*.jsonl"))
        with partial.open("a") as fh:
            fh.write('{"type": "assistant", "message": {"id": "msg_partial"')  # no newline: must wait
    else:
        source = _generated(tmp_path)
    serial, parallel = tmp_path / "serial.duckdb", tmp_path / "parallel.duckdb"
    _ingest(source, serial, parallel=False, monkeypatch=monkeypatch)
    _ingest(source, parallel, parallel=True, monkeypatch=monkeypatch, fork=fork)
    for sql in _TABLES:
        assert _table(parallel, sql) == _table(serial, sql), sql
    assert _table(serial, "SELECT count(*) FROM responses")[0][0] > 0
    if which == "generated":  # its haiku rows carry the user's rule, whoever parsed them
        assert _table(parallel, "SELECT DISTINCT tier FROM responses WHERE model LIKE 'claude-haiku%'") == [("mid",)]
    if which == "corpus":
        offset = _table(serial, f"SELECT \"offset\", size FROM files WHERE path = '{partial}'")[0]
        assert offset[0] < offset[1]  # the partial line is left for the next read



_TABLES = (
    "SELECT * FROM responses ORDER BY k",
    "SELECT * EXCLUDE (file_path, line_offset) FROM events ORDER BY k",
    "SELECT * EXCLUDE (first_ingest, last_ingest) FROM files ORDER BY path",
    "SELECT * FROM entry_types ORDER BY k",
    "SELECT * FROM agent_meta ORDER BY agent_id",
)


def test_a_stopped_parallel_load_keeps_whole_reads_and_the_next_pass_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard quitting during its first load: the workers end, what was gathered is stored with its
    files' marks, and the next pass stores exactly what one uninterrupted load would have."""
    source = _generated(tmp_path)
    serial, stopped = tmp_path / "serial.duckdb", tmp_path / "stopped.duckdb"
    _ingest(source, serial, parallel=False, monkeypatch=monkeypatch)
    calls: list[int] = []
    with monkeypatch.context() as m:
        _parallel_settings(m)
        first = Ingestor(load_settings(db=stopped, sources=[source])).run(
            lambda done, total: calls.append(done), stop=lambda: len(calls) >= 2
        )
    assert 0 < first.bytes_read < sum(path.stat().st_size for path in source.rglob("*.jsonl"))
    _ingest(source, stopped, parallel=False, monkeypatch=monkeypatch)
    for sql in _TABLES:
        assert _table(stopped, sql) == _table(serial, sql), sql


def test_workers_that_cannot_start_leave_the_load_to_this_process_in_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No worker processes (a sandbox without semaphores, spawn refused): the pass reads everything itself,
    through the chunked loop that lets waiters in and stops when asked, and stores what the serial path does."""
    source = _generated(tmp_path)
    serial, fallback = tmp_path / "serial.duckdb", tmp_path / "fallback.duckdb"
    _ingest(source, serial, parallel=False, monkeypatch=monkeypatch)

    def refuse(ctx: Any, count: int) -> Any:
        raise backfill.WorkersUnavailable("cannot start parse workers: no semaphores here")

    with monkeypatch.context() as m:
        m.setattr(backfill, "_start", refuse)
        summary = _ingest(source, fallback, parallel=True, monkeypatch=monkeypatch)
    assert summary.parse_workers == 0 and summary.files_read == summary.files_seen
    for sql in _TABLES:
        assert _table(fallback, sql) == _table(serial, sql), sql
