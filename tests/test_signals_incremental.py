"""Signals follow a live session: each ingest pass recomputes only the sessions it touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from test_signals_chat import HAIKU, OPUS, Chat, S, agent_file, main_file, read, write_meta
from tiermon.ingest import tailer
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.signals import engine, views
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary

S2 = "5e551011-aaaa-4bbb-8ccc-000000000002"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "claude"


@pytest.fixture
def ingestor(root: Path, db: Path) -> Ingestor:
    """One long-lived ingestor, as the dashboard keeps."""
    return Ingestor(load_settings(db=db, sources=[root]))


def _offset(db: Path, path: Path) -> int:
    with Store.open(db, read_only=True) as store:
        return int(store.query('SELECT "offset" FROM files WHERE path = ?', [str(path)])[0][0])


def _append(path: Path, lines: list[dict[str, Any]]) -> int:
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    with path.open("ab") as fh:
        fh.write(data)
    return len(data)


def test_appending_the_third_run_raises_the_thrash_on_the_next_pass(
    root: Path, db: Path, ingestor: Ingestor
) -> None:
    path = main_file(root)
    chat = Chat(model=HAIKU).prompt("make the build pass")
    chat.bash("cargo build", error=True)
    chat.read("src/main.rs")
    chat.bash("cargo build", error=False)
    chat.save(path)
    ingestor.run()
    assert read(db, views.list_alerts, kind="thrash") == []
    before = _offset(db, path)
    assert before == path.stat().st_size

    chat.take()
    chat.bash("cargo build", error=True)
    appended = _append(path, chat.take())
    summary = ingestor.run()

    assert appended - 1 <= summary.bytes_read <= appended  # only the new lines were read
    assert _offset(db, path) == before + appended == path.stat().st_size
    [alert] = read(db, views.list_alerts, kind="thrash")
    assert alert["figures"]["repeats"] == 3 and alert["session_id"] == S
    [advice] = read(db, views.list_advice, kind="escalate")
    assert advice["turn"] == 1


def test_a_half_written_line_waits_and_the_alert_comes_with_its_end(
    root: Path, db: Path, ingestor: Ingestor
) -> None:
    path = main_file(root)
    chat = Chat().prompt("go").say("a", model=OPUS)
    chat.save(path)
    ingestor.run()
    chat.take()
    line = json.dumps(chat.say("b", model=HAIKU).take()[0]) + "\n"
    with path.open("a") as fh:
        fh.write(line[:50])
    ingestor.run()
    assert read(db, views.list_alerts, kind="model_switch") == []
    with path.open("a") as fh:
        fh.write(line[50:])
    ingestor.run()
    [alert] = read(db, views.list_alerts, kind="model_switch")
    assert alert["severity"] == "warn"
    [state] = read(db, views.session_states, [S])
    assert state["current_model"] == HAIKU and state["switches"] == 1 and state["alerts_warn"] == 1


def test_a_pass_recomputes_only_the_sessions_it_touched(
    root: Path, db: Path, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    Chat().prompt("a").say("b").save(main_file(root))
    quiet = Chat(session=S2).prompt("a").say("b", model=OPUS).say("c", model=HAIKU)
    quiet.save(main_file(root, S2))
    ingestor.run()
    seen: list[str] = []
    compute = engine.compute

    def recorded_compute(rows: Any, *a: Any) -> Any:
        seen.append(rows.session_id)
        return compute(rows, *a)

    monkeypatch.setattr(engine, "compute", recorded_compute)
    ingestor.run()
    assert seen == []  # nothing new: nothing recomputed
    _append(main_file(root), Chat(start=100).prompt("more").say("d").take())
    ingestor.run()
    assert seen == [S]
    assert [a["session_id"] for a in read(db, views.list_alerts)] == [
        S2
    ]  # the other session kept its alert


def test_a_meta_json_arriving_later_retypes_its_agent(
    root: Path, db: Path, ingestor: Ingestor
) -> None:
    chat = Chat().prompt("explore")
    chat.task("a1b2c3d", "general-purpose")
    chat.say("done").save(main_file(root))
    Chat(model=HAIKU, agent="a1b2c3d", start=3).prompt("look").say("x").save(
        agent_file(root, "a1b2c3d")
    )
    ingestor.run()
    assert read(db, views.session_subagents, [S])[S][0]["agent_type"] == "general-purpose"
    write_meta(root, "a1b2c3d", "code-reviewer")
    ingestor.run()
    assert read(db, views.session_subagents, [S])[S][0]["agent_type"] == "code-reviewer"


def test_a_store_from_before_the_signals_is_filled_on_first_refresh(root: Path, db: Path) -> None:
    chat = Chat().prompt("a").say("b", model=OPUS).say("c", model=HAIKU)
    chat.save(main_file(root))
    settings = load_settings(db=db, sources=[root])
    ingestor = Ingestor(settings)
    with Store.open(db) as store:
        todo = tailer.plan(store, ingestor.files(), IngestSummary())
        tailer.ingest(store, todo, IngestSummary(), parallel=False)  # rows in, signals not yet computed
        assert store.query("SELECT count(*) FROM alerts")[0][0] == 0
        assert engine.refresh(store, set(), settings.thresholds, ingestor.prices) == 1
        assert store.query("SELECT count(*) FROM alerts")[0][0] == 1
        assert engine.refresh(store, set(), settings.thresholds, ingestor.prices) == 0
