"""The key indexes of responses and events: migrated from v2, dropped for a first backfill, repaired."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tiermon.ingest import backfill
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.schema import (
    EVENT_COLUMNS,
    FILE_COLUMNS,
    KEY_INDEXES,
    RESPONSE_COLUMNS,
    SCHEMA_VERSION,
    create_table_sql,
)
from tiermon.ingest.store import Store
from transcripts import assistant, prompt, usage, write

S = "11111111-2222-3333-4444-555555555555"


def _indexes(db: Path) -> set[str]:
    with Store.open(db, read_only=True) as store:
        return {r[0] for r in store.query("SELECT index_name FROM duckdb_indexes()")}


def _v2_store(db: Path) -> None:
    """A store as tiermon 0.1.0 wrote it: PRIMARY KEY constraints on both tables, schema version 2."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    for table, columns in (("responses", RESPONSE_COLUMNS), ("events", EVENT_COLUMNS)):
        con.execute(create_table_sql(table, {**columns, "k": "VARCHAR PRIMARY KEY"}))
    con.execute(create_table_sql("files", FILE_COLUMNS))
    values = {c: None for c in RESPONSE_COLUMNS} | {"k": "msg_1:req_1", "output_tokens": 5, "session_id": S}
    con.execute(f"INSERT INTO responses VALUES ({', '.join('?' * len(values))})", list(values.values()))
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.close()


def test_a_v2_store_is_migrated_with_its_rows_and_keys(db: Path) -> None:
    _v2_store(db)
    with Store.open(db) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.query("SELECT k, output_tokens FROM responses") == [("msg_1:req_1", 5)]
        assert store.query("SELECT k, requests FROM session_totals") == [(S, 1)]  # made from the rows it had
    assert set(KEY_INDEXES.values()) <= _indexes(db)


def test_a_load_that_died_without_its_indexes_is_repaired_on_the_next_open(tmp_path: Path, db: Path) -> None:
    """Duplicates written while the index was down are settled as an upsert would have: the larger output wins."""
    project = tmp_path / "claude" / "projects" / "-home-dev-shop"
    write(project / f"{S}.jsonl", [prompt(S, "u1", 0, "hi"), assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=7))])
    Ingestor(load_settings(db=db, sources=[tmp_path / "claude"])).run()
    with Store.open(db) as store:
        for index in KEY_INDEXES.values():
            store.con.execute(f"DROP INDEX {index}")
        store.con.execute("INSERT INTO responses SELECT * REPLACE (output_tokens + 100 AS output_tokens) FROM responses")
        store.con.execute("INSERT INTO responses SELECT * REPLACE (1 AS output_tokens) FROM responses LIMIT 1")
        store.con.execute("INSERT INTO events SELECT * FROM events")
    with Store.open(db) as store:
        assert store.query("SELECT k, output_tokens FROM responses") == [("msg_1:req_1", 107)]
        assert store.query("SELECT count(*) = count(DISTINCT k) FROM events") == [(True,)]
    assert set(KEY_INDEXES.values()) <= _indexes(db)


def test_only_a_first_backfill_drops_the_indexes(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backfill, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setenv("TIERMON_WORKERS", "2")
    built: list[str] = []
    build = Store._build_key_index

    def build_and_record(self: Store, table: str) -> None:
        built.append(table)
        build(self, table)

    monkeypatch.setattr(Store, "_build_key_index", build_and_record)
    project = tmp_path / "claude" / "projects" / "-home-dev-shop"
    for n in (1, 2):
        write(project / f"{S[:-1]}{n}.jsonl", [assistant(S[:-1] + str(n), f"a{n}", n, f"msg_{n}", f"req_{n}", "claude-haiku-4-5", usage(out=n))])
    ingestor = Ingestor(load_settings(db=db, sources=[tmp_path / "claude"]))
    ingestor.run()
    assert built == ["responses", "events"]  # loaded without indexes, built once
    built.clear()
    # A response repeated in a third file with more output: the second backfill must upsert it.
    write(project / f"{S[:-1]}3.jsonl", [assistant(S[:-1] + "3", "a3", 3, "msg_3", "req_3", "claude-haiku-4-5", usage(out=3)),
                                           assistant(S[:-1] + "1", "a1b", 4, "msg_1", "req_1", "claude-haiku-4-5", usage(out=50))])  # fmt: skip
    write(project / f"{S[:-1]}4.jsonl", [assistant(S[:-1] + "4", "a4", 5, "msg_4", "req_4", "claude-haiku-4-5", usage(out=4))])
    ingestor.run()
    assert built == []  # the store had rows: indexes kept, rows upserted
    with Store.open(db, read_only=True) as store:
        assert store.query("SELECT k, output_tokens FROM responses ORDER BY k") == [
            ("msg_1:req_1", 50), ("msg_2:req_2", 2), ("msg_3:req_3", 3), ("msg_4:req_4", 4)
        ]  # fmt: skip
    assert set(KEY_INDEXES.values()) <= _indexes(db)


def test_a_big_store_is_told_before_its_slow_migration(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Rewriting 20 M rows takes most of a minute: the user must not think tiermon hung."""
    from tiermon.ingest import store as store_module

    monkeypatch.setattr(store_module, "ANNOUNCE_ROWS", 1)
    _v2_store(db)
    with caplog.at_level("WARNING", logger="tiermon"), Store.open(db):
        pass
    assert any("upgrading" in r.message and "schema 3" in r.message for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="tiermon"), Store.open(tmp_path / "new.duckdb"):
        pass  # a new store has nothing to rewrite
    assert not caplog.records


def test_another_connection_of_the_loading_process_leaves_the_dropped_indexes_alone(tmp_path: Path, db: Path) -> None:
    """The dashboard's panes open the store while its own first load runs in bulk mode. They must not build
    the key indexes the load dropped: its next insert of a repeated key (a resumed session) would then fail,
    and so would its own index build at the end."""
    from tiermon.ingest import tailer
    from tiermon.ingest.store import BULK_OWNER_KEY, Pending
    from tiermon.ingest.summary import IngestSummary

    project = tmp_path / "claude" / "projects" / "-home-dev-shop"
    line = assistant(S, "a1", 1, "msg_1", "req_1", "claude-haiku-4-5", usage(out=7))
    write(project / f"{S}.jsonl", [prompt(S, "u1", 0, "hi"), line])
    write(project / f"{S[:-1]}9.jsonl", [line])  # the same response copied into a resumed session's file
    ingestor = Ingestor(load_settings(db=db, sources=[tmp_path / "claude"]))
    with Store.open(db) as writer, writer.bulk_load() as bulk:
        assert bulk
        for work in tailer.plan(writer, ingestor.files(), IngestSummary()):
            with Store.open(db) as pane:  # a pane refresh between two commits of the load
                assert pane.bulk_load_elsewhere()
                assert not set(KEY_INDEXES.values()) & {r[0] for r in pane.query("SELECT index_name FROM duckdb_indexes()")}
            pending = Pending()
            for batch, mark, _, _ in tailer.read_file(work):
                pending.add(mark, batch)
            writer.commit(pending)  # the second file's copy of msg_1 goes in without a key clash
    with Store.open(db) as store:
        assert store.query("SELECT k FROM responses") == [("msg_1:req_1",)]
        assert store.meta(BULK_OWNER_KEY) is None and not store.bulk_load_elsewhere()
    assert set(KEY_INDEXES.values()) <= _indexes(db)


def test_a_bulk_load_that_failed_in_this_process_does_not_hold_it_up(db: Path) -> None:
    """Its owner mark names this live process, but no load runs any more: the next open repairs the indexes."""
    from tiermon.ingest.store import BULK_OWNER_KEY

    with pytest.raises(RuntimeError), Store.open(db) as writer, writer.bulk_load():
        raise RuntimeError("a parse worker failed")
    with Store.open(db) as store:
        assert not store.bulk_load_elsewhere()
        # The repair clears the mark too: other processes (a report, `tiermon ingest`) would otherwise take it
        # for a load still running in this live process, and skip their own reads for as long as it runs.
        assert store.meta(BULK_OWNER_KEY) is None
    assert set(KEY_INDEXES.values()) <= _indexes(db)


def test_a_pane_opened_during_the_load_leaves_the_loads_memory_limit(db: Path) -> None:
    """DuckDB's settings belong to the database, which a process's connections share: a pane's 256 MB
    cap would also cap the load, whose index build at the end needs more on a big history."""
    with Store.open(db, memory_limit="512MB") as writer, writer.bulk_load():
        before = writer.query("SELECT current_setting('memory_limit')")
        with Store.open(db, memory_limit="256MB"):
            pass
        assert writer.query("SELECT current_setting('memory_limit')") == before
