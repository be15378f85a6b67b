"""A large refresh, in batches read by time span and computed in forked workers, must store exactly
what one process reading every session at once would."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.signals import engine, pool, staleness, writes
from tiermon.ingest.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "claude"


def _signal_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with Store.open(db, read_only=True) as store:
        return {name: store.query(f"SELECT * FROM {name} ORDER BY k") for name in [*writes.OWNED_TABLES, "turn_kinds"]}


def _recompute(db: Path, ingestor: Ingestor, *, parallel: bool) -> int:
    with Store.open(db) as store:
        store.con.execute("DELETE FROM meta WHERE key = ?", [staleness.FINGERPRINT_KEY])  # forces a full rebuild
        return engine.refresh(store, set(), ingestor.settings.thresholds, ingestor.prices, parallel=parallel)


def test_parallel_rebuild_stores_the_same_rows_as_a_serial_one(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingestor = Ingestor(load_settings(db=db, sources=[SAMPLES]))
    ingestor.run()
    sessions = _recompute(db, ingestor, parallel=False)
    serial = _signal_rows(db)
    assert sessions > 2 and serial["alerts"] and serial["turns"]

    monkeypatch.setattr(engine, "UNCOUNTED_SESSIONS", 0)
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)  # batches bounded by rows and read by time span: several here
    assert _recompute(db, ingestor, parallel=False) == sessions
    assert _signal_rows(db) == serial

    monkeypatch.setenv("TIERMON_WORKERS", "2")
    monkeypatch.setattr(pool, "PARALLEL_MIN_SESSIONS", 2)
    calls: list[int] = []
    fork_map = pool.fork_map

    def counted_fork_map(func: Any, parts: Any) -> Any:
        calls.append(len(parts))
        return fork_map(func, parts)

    monkeypatch.setattr(pool, "fork_map", counted_fork_map)
    assert _recompute(db, ingestor, parallel=True) == sessions
    assert len(calls) >= 3 and set(calls) == {2}
    assert _signal_rows(db) == serial


def test_a_failing_worker_is_reported_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERMON_WORKERS", "2")
    parent = os.getpid()

    def fails_in_the_child(part: int) -> int:
        if os.getpid() != parent:
            raise ValueError(f"bad part {part}")
        return part

    with pytest.raises(pool.PoolError, match="bad part 1"):
        pool.fork_map(fails_in_the_child, [0, 1])


def test_a_worker_that_dies_is_reported_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERMON_WORKERS", "2")
    parent = os.getpid()

    def dies_in_the_child(part: int) -> int:
        if os.getpid() != parent:
            os._exit(3)
        return part

    with pytest.raises(pool.PoolError, match="exit code 3"):
        pool.fork_map(dies_in_the_child, [0, 1])


def test_parts_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERMON_WORKERS", "3")
    assert pool.fork_map(lambda n: (n, n * n), [1, 2, 3]) == [(1, 1), (2, 4), (3, 9)]


def test_only_rule_modules_make_stored_signals_stale() -> None:
    """Editing how signals are read (views) or scheduled (pool) must not recompute every store's signals."""
    signals_dir = Path(engine.__file__).parent
    rules = {p.name for p in signals_dir.glob("*.py")} - staleness.NOT_RULES
    assert {"views.py", "pool.py"}.isdisjoint(rules)
    assert {"engine.py", "turns.py", "advice.py", "switches.py"} <= rules


def test_a_rebuild_cut_short_is_resumed_by_the_next_pass(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingestor = Ingestor(load_settings(db=db, sources=[SAMPLES]))
    ingestor.run()
    complete = _signal_rows(db)
    monkeypatch.setattr(engine, "UNCOUNTED_SESSIONS", 0)
    monkeypatch.setattr(engine, "BATCH_ROWS", 60)
    write = writes.write
    written: list[int] = []

    def dies_on_the_second_batch(*args: Any, **kwargs: Any) -> None:
        written.append(1)
        if len(written) == 2:
            raise KeyboardInterrupt
        write(*args, **kwargs)

    monkeypatch.setattr(writes, "write", dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        _recompute(db, ingestor, parallel=False)
    monkeypatch.setattr(writes, "write", write)
    with Store.open(db) as store:  # the next pass finds the rebuild unfinished and does it all
        sessions = engine.refresh(store, set(), ingestor.settings.thresholds, ingestor.prices)
    assert sessions > 2
    assert _signal_rows(db) == complete
