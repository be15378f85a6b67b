"""A spend report answers from responses alone: the signals of what its pass read are owed, not lost.

`tiermon report` (and `limits`, `reconcile`) store what is new and leave the touched sessions'
signals to the next command or dashboard that shows signals, which computes them first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_signals_chat import HAIKU, OPUS, Chat, S, main_file
from tiermon.ingest.store import Store
from tiermon.tui.cli import main

S2 = "7a0b0c0d-aaaa-4bbb-8ccc-000000000002"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Two sessions: a thrashing Haiku turn after a downgrade, and a simple Opus one."""
    root = tmp_path / "claude"
    c = Chat().prompt("plan the cart").say("plan", model=OPUS)
    c.prompt("implement it").say("on it", model=HAIKU)
    for _ in range(3):
        c.bash("pytest -x", error=True, model=HAIKU)
    c.save(main_file(root))
    Chat(session=S2, start=86_400 * 2).prompt("what is 2+2?").say("4", model=OPUS).save(main_file(root, S2))
    return root


def cli(capsys: pytest.CaptureFixture[str], db: Path, source: Path, *args: str) -> str:
    main(["--db", str(db), "--source", str(source), *args])
    return capsys.readouterr().out


def owed_and_alerts(db: Path) -> tuple[list[str], int]:
    with Store.open(db, read_only=True) as store:
        owed = sorted(r[0] for r in store.query("SELECT session_id FROM signals_owed"))
        return owed, int(store.query("SELECT count(*) FROM alerts")[0][0])


def test_a_report_owes_the_signals_and_alerts_compute_them_first(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path, tmp_path: Path
) -> None:
    report = json.loads(cli(capsys, db, source, "report", "daily", "--json"))
    assert report["totals"]["requests"] > 0
    assert owed_and_alerts(db) == (sorted([S, S2]), 0)  # answered without computing them
    alerts = json.loads(cli(capsys, db, source, "alerts", "--json"))["alerts"]
    assert sorted(a["kind"] for a in alerts) == ["model_switch", "thrash"]
    assert owed_and_alerts(db) == ([], 2)
    reference = tmp_path / "reference.duckdb"  # the same store built by `ingest`, signals as it reads
    cli(capsys, reference, source, "ingest")
    assert json.loads(cli(capsys, reference, source, "alerts", "--json"))["alerts"] == alerts


def test_a_grouping_read_from_signals_computes_them(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    rows = json.loads(cli(capsys, db, source, "report", "daily", "--by", "project", "--json"))["daily"]
    assert rows and all(r["group"] for r in rows)
    assert owed_and_alerts(db) == ([], 2)


def test_only_the_touched_session_is_owed_and_the_next_signal_pass_settles_it(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path, tmp_path: Path
) -> None:
    cli(capsys, db, source, "ingest")
    more = Chat(session=S2, start=86_400 * 3)
    more.lines = [{**line, "uuid": f"more-{i}"} for i, line in enumerate(more.prompt("and 3+3?").say("6").lines)]
    more.save(main_file(source, S2), mode="a")  # the session goes on
    cli(capsys, db, source, "report", "daily", "--json")
    assert owed_and_alerts(db) == ([S2], 2)
    cli(capsys, db, source, "ingest")
    assert owed_and_alerts(db) == ([], 2)
    reference = tmp_path / "reference.duckdb"
    cli(capsys, reference, source, "ingest")
    turns = "SELECT session_id, turn, prompt FROM turns ORDER BY ALL"
    with Store.open(db, read_only=True) as store, Store.open(reference, read_only=True) as ref:
        assert store.query(turns) == ref.query(turns)
        assert store.query("SELECT count(*) FROM turns WHERE session_id = ?", [S2]) == [(2,)]
