"""The one ingest path: holds that let other processes in, progress, stopping between chunks."""

from __future__ import annotations

from pathlib import Path

from tiermon.ingest.runner import Ingestor, Limits
from tiermon.ingest.store import Store
from tui_support import sample_settings

SHORT_HOLDS = Limits(chunk_files=2, hold_seconds=0.0, pause_seconds=0.0)


def _knock(settings_db: Path) -> None:
    """What another tiermon's open does when it finds the file locked."""
    from tiermon.ingest import store as store_mod

    settings_db.with_name(settings_db.name + store_mod.KNOCK_SUFFIX).touch()


def test_chunked_ingest_matches_one_pass_and_lets_a_waiter_in_between_holds(tmp_path: Path) -> None:
    settings = sample_settings(tmp_path / "chunked")
    holds: list[int] = []
    progress: list[tuple[int, int]] = []

    def knocking_progress(done: int, total: int) -> None:
        progress.append((done, total))
        _knock(settings.db_path)  # someone waits all along: every chunk ends the hold

    summary = Ingestor(settings, SHORT_HOLDS).run(
        knocking_progress, lambda s: holds.append(s.responses), parallel=False
    )
    reference = sample_settings(tmp_path / "whole")
    Ingestor(reference).run()
    assert len(holds) > 3 and sum(holds) == summary.responses
    assert progress[-1][0] == progress[-1][1] > 0
    count = "SELECT count(*), round(sum(cost_usd), 9) FROM responses"
    with Store.open(settings.db_path) as a, Store.open(reference.db_path) as b:
        assert a.query(count) == b.query(count)
        assert a.query("SELECT count(*) FROM alerts") == b.query("SELECT count(*) FROM alerts")


def test_unasked_the_ingest_keeps_the_store_in_one_hold(tmp_path: Path) -> None:
    """Letting go costs a reopen and a pause per hold: with nobody waiting, a pass of many chunks is one hold."""
    settings = sample_settings(tmp_path)
    holds: list[int] = []
    summary = Ingestor(settings, SHORT_HOLDS).run(committed=lambda s: holds.append(s.files_read), parallel=False)
    assert holds == [summary.files_read] and summary.files_read > 3


def test_ingest_stops_between_chunks_when_asked(tmp_path: Path) -> None:
    settings = sample_settings(tmp_path)
    chunks: list[int] = []
    one_file = Limits(chunk_files=1, hold_seconds=0.0, pause_seconds=0.0)
    summary = Ingestor(settings, one_file).run(lambda d, t: chunks.append(d), stop=lambda: len(chunks) >= 2)
    assert 0 < summary.files_read < summary.files_seen
    with Store.open(settings.db_path) as store:
        assert store.query("SELECT count(*) > 0 FROM signals_owed") == [(True,)]  # not computed while stopping
    rest = Ingestor(settings).run()
    assert rest.files_read == summary.files_seen - summary.files_read  # the rest is read by the next pass
    with Store.open(settings.db_path) as store:
        assert store.query("SELECT count(*) FROM signals_owed") == [(0,)]  # what the stop left owed is done


HOLDER = """
import sys, time
from pathlib import Path
from tiermon.ingest.store import Store
db, seconds = Path(sys.argv[1]), float(sys.argv[2])
with Store.open(db) as store, store.bulk_load():
    print("loading", flush=True)
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # a first load's writer: commits, and lets others in between holds
        time.sleep(0.05)
        store.let_others_in(1.5, 0.35)
"""


def test_a_report_answers_while_a_first_load_holds_the_store(tmp_path: Path) -> None:
    """A report gets in between the load's holds (SPEC §7), skips its own ingest, and answers from what is stored."""
    import subprocess
    import sys
    import time

    settings = sample_settings(tmp_path)
    Ingestor(settings).run()  # rows to answer from
    with Store.open(settings.db_path) as store:
        store.execute("DELETE FROM files")  # the report would otherwise have nothing to ingest anyway
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(settings.db_path), "12"], stdout=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "loading"
        tiermon = Path(sys.executable).with_name("tiermon")
        started = time.monotonic()
        result = subprocess.run(
            [str(tiermon), "--db", str(settings.db_path), "--source", str(settings.sources[0][1]),  # type: ignore[index]
             "report", "daily", "--json", "--since", "2000-01-01"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert '"totals"' in result.stdout
        assert elapsed < 6.0  # 2 s on an idle machine; CI shares two cores with the load
        assert holder.poll() is None  # the load was still running
    finally:
        holder.kill()
        holder.wait()


def test_a_load_keeps_the_store_until_someone_knocks(tmp_path: Path) -> None:
    """Letting go costs a reopen and a pause: a load does it only when a waiter asked (or after a long while)."""
    import time

    from tiermon.ingest import store as store_mod

    settings = sample_settings(tmp_path)
    Ingestor(settings).run()
    with Store.open(settings.db_path) as store:
        store._held_since -= 2.0  # held past hold_seconds
        assert not store.let_others_in(1.5, 0.0)  # nobody waits: keep going
        knock = settings.db_path.with_name(settings.db_path.name + store_mod.KNOCK_SUFFIX)
        time.sleep(0.01)
        knock.touch()  # what a waiter's open does when it finds the lock taken
        assert store.let_others_in(1.5, 0.0)
        assert store.query("SELECT count(*) > 0 FROM responses") == [(True,)]  # reopened and usable
        store._held_since -= store_mod.UNASKED_HOLD_SECONDS
        assert store.let_others_in(1.5, 0.0)  # unasked, but held for long: let go anyway
