"""Opening the store with a memory bound, as the dashboard does."""

from __future__ import annotations

from pathlib import Path

from tiermon.ingest.runner import LIMITS
from tiermon.ingest.store import Store


def test_a_memory_limit_bounds_duckdb_for_that_hold_only(db: Path) -> None:
    with Store.open(db, memory_limit=LIMITS.query_memory_limit) as store:
        limited = store.query("SELECT current_setting('memory_limit')")[0][0]
    with Store.open(db) as store:
        default = store.query("SELECT current_setting('memory_limit')")[0][0]
    assert limited == "244.1 MiB"  # 256 MB
    assert limited != default


def _other_process_opens(db: Path) -> str:
    """Open the file in another process, as any other tiermon would (knocking while it waits)."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from tiermon.ingest.store import Store\n"
        "with Store.open(Path(sys.argv[1]), wait=5) as s: print(s.query('SELECT count(*) FROM meta')[0][0] > 0)"
    )
    return subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60).stdout


def test_a_kept_file_is_one_connection_lent_to_every_open_and_let_go_when_knocked(db: Path) -> None:
    """A resident process (`tiermon serve`) keeps the file open between its answers, and another process
    that needs it knocks and gets in: the kept file is let go when its last lender closes."""
    from tiermon.ingest.store import _knock, keep_open, stop_keeping

    kept = keep_open(db)
    try:
        with Store.open(db) as outer:
            outer.execute("CREATE TABLE t AS SELECT 1 AS x")
            with Store.open(db, read_only=True) as inner:  # a read-only open in the same process: a cursor too
                assert inner.query("SELECT x FROM t") == [(1,)]
            con = kept.con
        assert kept.con is con and con is not None  # still open after both closed: nobody knocked
        with Store.open(db) as again:
            assert kept.con is con and again.query("SELECT count(*) FROM t") == [(1,)]
            _knock(db)  # another process knocked meanwhile
            assert kept.con is con  # not while lent out
        assert kept.con is None  # let go as the last lender closed
        assert _other_process_opens(db).strip() == "True"
    finally:
        stop_keeping(db)


def test_an_idle_kept_file_is_let_go_on_a_knock(db: Path) -> None:
    import threading
    import time

    from tiermon.ingest.store import keep_open, stop_keeping

    kept = keep_open(db)
    try:
        with Store.open(db):
            pass
        stop = threading.Event()

        def idle() -> None:  # what `tiermon serve` does between answers
            while not stop.is_set():
                if kept.knocked():
                    kept.let_go()
                time.sleep(0.05)

        watcher = threading.Thread(target=idle)
        watcher.start()
        try:
            assert _other_process_opens(db).strip() == "True"
        finally:
            stop.set()
            watcher.join()
        assert kept.con is None
        with Store.open(db) as store:  # taken back on the next open
            assert kept.con is not None and store.query("SELECT 1") == [(1,)]
    finally:
        stop_keeping(db)


def test_a_long_hold_of_a_kept_file_lets_a_knocking_process_in(db: Path) -> None:
    """`let_others_in` on a lent store closes the kept connection for the pause, then takes it back."""
    import subprocess
    import sys

    from tiermon.ingest.store import keep_open, stop_keeping

    kept = keep_open(db)
    try:
        with Store.open(db) as store:
            store.execute("CREATE TABLE t AS SELECT 1 AS x")
            code = (
                "import sys; from pathlib import Path; from tiermon.ingest.store import Store\n"
                "with Store.open(Path(sys.argv[1]), wait=20) as s: s.execute('INSERT INTO t VALUES (2)')"
            )
            other = subprocess.Popen([sys.executable, "-c", code, str(db)])
            deadline = 30.0
            while not store.let_others_in(hold_seconds=0.0, pause_seconds=1.0):
                deadline -= 0.05
                assert deadline > 0
                import time

                time.sleep(0.05)
            assert other.wait(timeout=30) == 0
            assert sorted(store.query("SELECT x FROM t")) == [(1,), (2,)]  # the same store object reads on
            assert kept.con is not None
    finally:
        stop_keeping(db)


def test_a_read_only_open_of_a_kept_file_creates_nothing(tmp_path: Path) -> None:
    """As a read-only open: no store is created (or migrated) for a reader."""
    import pytest

    from tiermon.ingest.store import StoreError, keep_open, stop_keeping

    missing = tmp_path / "none" / "tiermon.duckdb"
    keep_open(missing)
    try:
        with pytest.raises(StoreError, match="no database"), Store.open(missing, read_only=True):
            pass
        assert not missing.exists()
    finally:
        stop_keeping(missing)


def test_a_kept_file_stopped_while_lent_is_closed_when_the_cursor_comes_back(db: Path) -> None:
    from tiermon.ingest.store import keep_open, stop_keeping

    kept = keep_open(db)
    with Store.open(db) as store:
        stop_keeping(db)  # the dashboard unmounting while a pane's query runs
        assert kept.con is not None and store.query("SELECT 1") == [(1,)]
    assert kept.con is None
    assert _other_process_opens(db).strip() == "True"


def test_a_bulk_load_on_a_kept_file_builds_its_key_indexes_after_letting_another_process_in(db: Path) -> None:
    """A review found the dashboard's first load failing at its very end ("Data contains duplicates") when
    another process had been let in during it: taking the file back left a result unread on the kept
    connection, whose open transaction kept the duplicate keys the index build had just deleted alive."""
    from tiermon.ingest.store import _knock, keep_open, stop_keeping

    keep_open(db)
    try:
        with Store.open(db) as store:
            with store.bulk_load() as bulk:
                assert bulk
                store.execute("INSERT INTO responses (k, output_tokens) VALUES ('x', 1), ('x', 2), ('y', 1)")
                store.execute("INSERT INTO events (k) VALUES ('e'), ('e')")
                _knock(db)
                assert store.let_others_in(hold_seconds=0, pause_seconds=0.01)  # a report came and went
            assert store.query("SELECT k, output_tokens FROM responses ORDER BY k") == [("x", 2), ("y", 1)]
            indexes = {r[0] for r in store.query("SELECT index_name FROM duckdb_indexes()")}
            assert {"responses_k", "events_k"} <= indexes
    finally:
        stop_keeping(db)


def test_a_long_query_draws_no_progress_bar_into_the_output(db: Path) -> None:
    """DuckDB draws a progress bar on stdout for a query that runs long (2 s by default; 1 ms here): inside
    a `--json` answer or a migration's output it would be garbage."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from tiermon.ingest import duck; from tiermon.ingest.store import Store\n"
        "def soon(*args, connect=duck.connect, **kwargs):\n"
        "    con = connect(*args, **kwargs)\n"
        "    con.execute('SET progress_bar_time = 1')\n"
        "    return con\n"
        "duck.connect = soon\n"
        "with Store.open(Path(sys.argv[1])) as s:\n"
        "    s.query('SELECT count(*) FROM range(300000000) t(x) WHERE x % 7 = 3')\n"
        "print('done')"
    )
    out = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=120)
    assert (out.stdout, out.returncode) == ("done\n", 0)
