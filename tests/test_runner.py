"""The one ingest path: holds that let other processes in, progress, stopping between chunks."""

from __future__ import annotations

from pathlib import Path

from tiermon.ingest.runner import Ingestor, Limits
from tiermon.ingest.store import Store
from tui_support import sample_settings

SHORT_HOLDS = Limits(chunk_files=2, hold_seconds=0.0, pause_seconds=0.0)


def test_chunked_ingest_matches_one_pass_and_lets_go_between_holds(tmp_path: Path) -> None:
    settings = sample_settings(tmp_path / "chunked")
    holds: list[int] = []
    progress: list[tuple[int, int]] = []
    summary = Ingestor(settings, SHORT_HOLDS).run(
        lambda d, t: progress.append((d, t)), lambda s: holds.append(s.responses), parallel=False
    )
    reference = sample_settings(tmp_path / "whole")
    Ingestor(reference).run()
    assert len(holds) > 3 and sum(holds) == summary.responses
    assert progress[-1][0] == progress[-1][1] > 0
    count = "SELECT count(*), round(sum(cost_usd), 9) FROM responses"
    with Store.open(settings.db_path) as a, Store.open(reference.db_path) as b:
        assert a.query(count) == b.query(count)
        assert a.query("SELECT count(*) FROM alerts") == b.query("SELECT count(*) FROM alerts")


def test_ingest_stops_between_chunks_when_asked(tmp_path: Path) -> None:
    settings = sample_settings(tmp_path)
    holds: list[int] = []
    one_file = Limits(chunk_files=1, hold_seconds=0.0, pause_seconds=0.0)
    Ingestor(settings, one_file).run(committed=lambda s: holds.append(s.files_read), stop=lambda: len(holds) >= 2)
    assert len(holds) == 2
    assert Ingestor(settings).run().files_read > 0  # the rest is read by the next pass
