"""The tailer on real files being appended to, truncated, corrupted and deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiermon.ingest import tailer as tailer_module
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Pending, Store
from tiermon.ingest.summary import IngestSummary
from transcripts import assistant, prompt, usage, write

S = "11111111-2222-3333-4444-555555555555"


def _responses(db: Path) -> list[tuple[str, int]]:
    with Store.open(db, read_only=True) as store:
        return [tuple(r) for r in store.query("SELECT k, output_tokens FROM responses ORDER BY k")]


def _mark(db: Path, path: Path) -> tuple[int, int]:
    with Store.open(db, read_only=True) as store:
        return tuple(store.query('SELECT "offset", lines FROM files WHERE path = ?', [str(path)])[0])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "claude" / "projects" / "-home-dev-shop"


@pytest.fixture
def ingestor(tmp_path: Path, db: Path) -> Ingestor:
    return Ingestor(load_settings(db=db, sources=[tmp_path / "claude"]))


def test_streamed_lines_count_once_with_final_usage(project: Path, ingestor: Ingestor, db: Path) -> None:
    f = project / f"{S}.jsonl"
    write(f, [
        prompt(S, "u1", 0, "fix the bug"),
        assistant(S, "a1", 1, "msg_1", "req_1", "claude-opus-4-6", usage(out=2), {"type": "thinking", "thinking": "x"}),
        assistant(S, "a2", 2, "msg_1", "req_1", "claude-opus-4-6", usage(out=2), {"type": "text", "text": "hello"}),
        assistant(S, "a3", 3, "msg_1", "req_1", "claude-opus-4-6", usage(out=340), {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}),
    ])  # fmt: skip
    ingestor.run()
    assert _responses(db) == [("msg_1:req_1", 340)]


def test_partial_line_waits_for_its_newline(project: Path, ingestor: Ingestor, db: Path) -> None:
    f = project / f"{S}.jsonl"
    write(f, [prompt(S, "u1", 0, "hi")])
    import json

    line = json.dumps(assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=7)))
    with f.open("a") as fh:
        fh.write(line[:40])
    ingestor.run()
    assert _responses(db) == []
    offset, _ = _mark(db, f)
    assert offset == len(f.read_bytes()) - 40
    with f.open("a") as fh:
        fh.write(line[40:] + "\n")
    ingestor.run()
    assert _responses(db) == [("msg_1:req_1", 7)]
    assert _mark(db, f)[0] == f.stat().st_size


def test_append_reads_only_new_bytes_and_restart_adds_no_duplicates(project: Path, tmp_path: Path, db: Path) -> None:
    f = project / f"{S}.jsonl"
    write(f, [assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=5))])
    first = Ingestor(load_settings(db=db, sources=[tmp_path / "claude"]))
    first.run()
    write(f, [assistant(S, "a2", 2, "msg_2", "req_2", "claude-haiku-4-5", usage(out=9))], mode="a")
    summary = first.run()
    assert summary.bytes_read < f.stat().st_size  # only the appended line was read
    # A new process (fresh tailer memory) over the same store and files adds nothing.
    again = Ingestor(load_settings(db=db, sources=[tmp_path / "claude"])).run()
    assert again.responses == 0
    assert _responses(db) == [("msg_1:req_1", 5), ("msg_2:req_2", 9)]


def test_truncated_file_is_read_again_from_zero(project: Path, ingestor: Ingestor, db: Path) -> None:
    f = project / f"{S}.jsonl"
    write(f, [assistant(S, f"a{i}", i, f"msg_{i}", f"req_{i}", "claude-haiku-4-5", usage(out=i)) for i in range(1, 6)])
    ingestor.run()
    write(f, [assistant(S, "b1", 10, "msg_new", "req_new", "claude-haiku-4-5", usage(out=42))])
    summary = ingestor.run()
    assert summary.files_reset == 1
    keys = [k for k, _ in _responses(db)]
    assert "msg_new:req_new" in keys and "msg_1:req_1" in keys  # old rows are kept: the store is the record


def test_corrupt_line_is_quarantined_and_ingestion_goes_on(project: Path, ingestor: Ingestor, db: Path) -> None:
    f = project / f"{S}.jsonl"
    write(f, [assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=5))])
    with f.open("a") as fh:
        fh.write('{"type": "assistant", "message": {broken\n')
    write(f, [assistant(S, "a2", 2, "msg_2", "req_2", "claude-haiku-4-5", usage(out=6))], mode="a")
    summary = ingestor.run()
    assert summary.quarantined == 1
    assert len(_responses(db)) == 2
    with Store.open(db, read_only=True) as store:
        path, offset, reason = store.query("SELECT file_path, line_offset, reason FROM quarantine")[0]
    assert path == str(f) and reason.startswith("invalid JSON")
    assert f.read_bytes()[offset:].startswith(b'{"type": "assistant", "message": {broken')


def test_oversized_line_is_quarantined(project: Path, ingestor: Ingestor, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tailer_module, "MAX_LINE_BYTES", 2000)
    monkeypatch.setattr(tailer_module, "CHUNK_BYTES", 1000)
    f = project / f"{S}.jsonl"
    big = prompt(S, "u0", 0, "x" * 5000)
    write(f, [big, assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=5))])
    summary = ingestor.run()
    assert summary.quarantined == 1
    assert _responses(db) == [("msg_1:req_1", 5)]


def test_deleted_transcript_keeps_its_rows(project: Path, ingestor: Ingestor, db: Path) -> None:
    f = project / f"{S}.jsonl"
    write(f, [assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=5))])
    ingestor.run()
    f.unlink()
    ingestor.run()
    assert _responses(db) == [("msg_1:req_1", 5)]


def test_key_seen_in_two_files_keeps_largest_output_then_main_chain(project: Path, ingestor: Ingestor, db: Path) -> None:
    write(project / f"{S}.jsonl", [assistant(S, "a1", 1, "msg_1", "req_1", "claude-opus-4-6", usage(out=50))])
    write(project / S / "subagents" / "agent-abc1234.jsonl", [
        assistant(S, "b1", 1, "msg_1", "req_1", "claude-opus-4-6", usage(out=50), sidechain=True, agent="abc1234"),
        assistant(S, "b2", 2, "msg_2", "req_2", "claude-opus-4-6", usage(out=3), sidechain=True, agent="abc1234"),
    ])  # fmt: skip
    write(project / f"{S}-copy.jsonl", [assistant(S, "c1", 3, "msg_2", "req_2", "claude-opus-4-6", usage(out=30), sidechain=True, agent="abc1234")])
    ingestor.run()
    with Store.open(db, read_only=True) as store:
        rows = store.query("SELECT k, output_tokens, is_sidechain FROM responses ORDER BY k")
    assert [tuple(r) for r in rows] == [("msg_1:req_1", 50, False), ("msg_2:req_2", 30, True)]


def test_unknown_types_and_fields_are_ignored_and_counted(project: Path, ingestor: Ingestor, db: Path) -> None:
    f = project / f"{S}.jsonl"
    odd = assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=5))
    odd["brandNewField"] = {"nested": [1, 2]}
    odd["isSidechain"] = "maybe"  # a type surprise: lenient decoding keeps the rest of the line
    write(f, [{"type": "hologram", "sessionId": S, "version": "9.9.9"}, odd])
    summary = ingestor.run()
    assert summary.quarantined == 0
    assert _responses(db) == [("msg_1:req_1", 5)]
    with Store.open(db, read_only=True) as store:
        assert store.query("SELECT entry_type, version FROM entry_types WHERE NOT known") == [("hologram", "9.9.9")]


def test_timestamps_with_an_offset_or_none_are_stored_as_utc(project: Path, ingestor: Ingestor, db: Path) -> None:
    """Claude Code writes `Z`; other writers may not. Days and blocks must not shift either way."""
    f = project / f"{S}.jsonl"
    zulu = assistant(S, "a1", 0, "msg_1", "req_1", "claude-haiku-4-5", usage())
    offset = assistant(S, "a2", 0, "msg_2", "req_2", "claude-haiku-4-5", usage())
    offset["timestamp"] = "2026-03-02T11:00:00.000+02:00"
    naive = assistant(S, "a3", 0, "msg_3", "req_3", "claude-haiku-4-5", usage())
    naive["timestamp"] = "2026-03-02T09:00:00"
    write(f, [zulu, offset, naive])
    ingestor.run()
    with Store.open(db, read_only=True) as store:
        stamps = {r[0]: r[1] for r in store.query("SELECT message_id, strftime(ts, '%Y-%m-%d %H:%M:%S') FROM responses")}
    assert stamps == {"msg_1": "2026-03-02 09:00:00", "msg_2": "2026-03-02 09:00:00", "msg_3": "2026-03-02 09:00:00"}


def test_a_source_named_relatively_then_absolutely_is_one_set_of_files(
    project: Path, tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store knows files by path: `--source ./claude` and `--source /abs/claude` must not read twice."""
    write(project / f"{S}.jsonl", [assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=7))])
    monkeypatch.chdir(tmp_path)
    first = Ingestor(load_settings(db=db, sources=[Path("claude")])).run()
    again = Ingestor(load_settings(db=db, sources=[tmp_path / "claude" / ".." / "claude"])).run()
    assert (first.files_read, again.files_read) == (1, 0)
    with Store.open(db, read_only=True) as store:
        assert store.query("SELECT path FROM files") == [(str(project / f"{S}.jsonl"),)]


def test_a_pass_that_ends_mid_file_is_read_on_by_the_next(
    project: Path, ingestor: Ingestor, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass stopped or killed after committing part of a big file: the stat still equals the file's, but the
    next pass must read the rest (the part's mark records the bytes seen, not the file's size)."""
    f = project / f"{S}.jsonl"
    write(f, [assistant(S, f"a{i}", i, f"msg_{i}", f"req_{i}", "claude-opus-4-6", usage(out=i + 1)) for i in range(40)])
    monkeypatch.setattr(tailer_module, "CHUNK_BYTES", 2048)  # many reads of one file
    with Store.open(db) as store:
        todo = tailer_module.plan(store, ingestor.files(), IngestSummary())
        batch, mark, _, _ = next(tailer_module.read_file(todo[0]))  # the pass ends after its first read
        pending = Pending()
        pending.add(mark, batch)
        store.commit(pending)
    first = len(_responses(db))
    assert 0 < first < 40
    ingestor.run()
    assert len(_responses(db)) == 40
