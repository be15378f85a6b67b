"""Learned compaction limits: kept between asks, learned again as soon as a compaction is written."""

from __future__ import annotations

from pathlib import Path

from test_signals_chat import OPUS, Chat, ingest, main_file
from tiermon.ingest import tailer
from tiermon.ingest.discovery import scan, source_roots
from tiermon.ingest.models import model_base
from tiermon.ingest.schema import COMPACTIONS_KEY
from tiermon.ingest.signals.costs import DEFAULT_WINDOW
from tiermon.ingest.signals.limits import learned_limits
from tiermon.ingest.store import Store
from tiermon.ingest.summary import IngestSummary

B = "5e551011-aaaa-4bbb-8ccc-000000000002"


def _compacting(session: str, pre_tokens: int) -> Chat:
    chat = Chat(session, OPUS)
    chat.prompt("Refactor the billing module")
    chat.say("Working on it", ctx=pre_tokens - 1_000)
    return chat.compact(pre_tokens)


def _read_new(store: Store, root: Path) -> None:
    summary = IngestSummary()
    todo = tailer.plan(store, scan(source_roots([("claude", root)])), summary)
    tailer.ingest(store, todo, summary, parallel=False)


def test_a_compaction_written_on_the_same_connection_is_learned_at_once(tmp_path: Path) -> None:
    root = tmp_path / "claude"
    _compacting(Chat().session, 150_000).save(_mkdir(main_file(root)))
    key = (model_base(OPUS), "claude-code", DEFAULT_WINDOW)
    with Store.open(tmp_path / "t.duckdb") as store:
        _read_new(store, root)
        assert learned_limits(store).learned[key] == 150_000
        assert learned_limits(store).learned[key] == 150_000  # the second ask of a pass: from meta
        _compacting(B, 140_000).save(_mkdir(main_file(root, B)))
        _read_new(store, root)
        assert learned_limits(store).learned[key] == 145_000  # the median of both, not the remembered point


def _mkdir(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_the_compaction_count_follows_every_pass_and_ignores_copies(tmp_path: Path) -> None:
    """The learned limits are keyed on a count kept by each write: after appends and a resumed copy
    of a transcript (the same compaction again), it still equals a scan of the events."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    first = _compacting(Chat().session, 150_000)
    path = first.save(_mkdir(main_file(root)))
    ingest(root, db)
    first.compact(120_000).save(path, mode="a")
    _compacting(B, 140_000).save(_mkdir(main_file(root, B)))
    ingest(root, db)
    (path.parent / "resumed-copy.jsonl").write_bytes(path.read_bytes())  # a resumed session repeats its lines
    ingest(root, db)
    with Store.open(db, read_only=True) as store:
        counted = store.meta(COMPACTIONS_KEY)
        scanned = store.query("SELECT count(*) FROM events WHERE subtype = 'compact_boundary'")[0][0]
    assert counted == str(scanned) == "3"
