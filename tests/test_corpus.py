"""The real transcripts in ../shared/corpus: exact figures, every layout, no crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Store

# (session prefix, model, requests, input, output, cache read, 5m write, 1h write, cost USD) from issue 2.
REFERENCE = [
    ("1af7fc5e", "claude-sonnet-4-20250514", 7, 93, 953, 103219, 12698, 0, 0.093157),
    ("3f6ddfee", "claude-haiku-4-5-20251001", 1, 1417, 115, 0, 0, 0, 0.001992),
    ("5c0375b4", "claude-sonnet-4-20250514", 20, 129, 3629, 324259, 47747, 0, 0.331151),
    ("ae4a77f8", "claude-haiku-4-5-20251001", 133, 150, 29879, 10933461, 141785, 0, 1.420122),
    ("ae4a77f8", "claude-opus-4-6", 85, 95, 19596, 5638009, 217025, 0, 4.665786),
    ("ae4a77f8", "claude-sonnet-4-5-20250929", 3, 2408, 7, 29274, 18814, 0, 0.086664),
    ("b3edadab", "claude-opus-4-5-20251101", 15, 138, 1443, 290391, 32421, 0, 0.384592),
    ("b3edadab", "claude-sonnet-4-5-20250929", 3, 15, 297, 25277, 13142, 0, 0.061366),
    ("be89c3cd", "claude-opus-4-5-20251101", 1, 1545, 74, 0, 0, 0, 0.009575),
    ("d6e0bada", "claude-opus-4-6", 4, 54, 212, 88231, 0, 17696, 0.226645),
]


@pytest.fixture
def corpus_db(corpus: Path, db: Path) -> Path:
    Ingestor(load_settings(db=db, sources=[corpus])).run()
    return db


def test_reference_figures_per_session_and_model(corpus_db: Path) -> None:
    with Store.open(corpus_db, read_only=True) as store:
        rows = store.query(
            """SELECT left(session_id, 8), model, count(*), sum(input_tokens), sum(output_tokens),
                      sum(cache_read_tokens), sum(cache_write_5m_tokens), sum(cache_write_1h_tokens),
                      round(sum(cost_usd), 6)
               FROM responses GROUP BY ALL ORDER BY 1, 2"""
        )
    assert [tuple(r) for r in rows] == REFERENCE


def test_every_corpus_line_is_read_without_quarantine(corpus: Path, db: Path) -> None:
    summary = Ingestor(load_settings(db=db, sources=[corpus])).run()
    lines = sum(
        sum(1 for line in p.read_bytes().split(b"\n") if line.strip()) for p in corpus.rglob("*.jsonl")
    )
    assert summary.lines == lines
    assert summary.quarantined == 0


def test_three_subagent_layouts_get_agent_ids(corpus_db: Path) -> None:
    with Store.open(corpus_db, read_only=True) as store:
        agents = dict(
            store.query(
                "SELECT left(session_id, 8) || ':' || agent_id, count(*) FROM responses WHERE is_sidechain GROUP BY 1"
            )
        )
    # 1.0.108 inline sidechains: grouped per sidechain root, no agentId in the file.
    assert any(k.startswith("5c0375b4:side-") for k in agents)
    # 2.0.74 flat agent files, including the warmups that belong to summary-only sessions.
    assert agents["b3edadab:a434715"] == 3
    assert agents["3f6ddfee:a02a5b8"] == 1
    # 2.1.39 nested subagents/ with the compaction agent.
    assert agents["ae4a77f8:aac57f5"] >= 1
    assert agents["ae4a77f8:acompact-946d2b"] == 1


def test_progress_copies_of_subagent_messages_are_not_counted(corpus_db: Path) -> None:
    """agent_progress lines embed subagent responses with usage; only top-level assistant lines count."""
    with Store.open(corpus_db, read_only=True) as store:
        main_sonnet = store.query(
            "SELECT count(*) FROM responses WHERE session_id LIKE 'ae4a77f8%' AND model LIKE '%sonnet%' AND NOT is_sidechain"
        )[0][0]
    assert main_sonnet == 0


def test_second_ingest_adds_nothing(corpus: Path, corpus_db: Path) -> None:
    summary = Ingestor(load_settings(db=corpus_db, sources=[corpus])).run()
    assert summary.files_read == 0 and summary.responses == 0
    with Store.open(corpus_db, read_only=True) as store:
        assert store.query("SELECT count(*) FROM responses")[0][0] == sum(r[2] for r in REFERENCE)


def test_store_is_private(corpus_db: Path) -> None:
    assert corpus_db.stat().st_mode & 0o777 == 0o600
    assert corpus_db.parent.stat().st_mode & 0o777 == 0o700


def test_report_by_agent_type_separates_warmups_compaction_and_tasks(corpus_db: Path) -> None:
    from tiermon.ingest.reports import ReportFilter, model_rows

    with Store.open(corpus_db, read_only=True) as store:
        rows = model_rows(store, ReportFilter(), by="agent-type")
    groups = {(r["group"], r["model"]): r["requests"] for r in rows}
    assert groups[("warmup", "claude-haiku-4-5-20251001")] == 1
    assert groups[("warmup", "claude-opus-4-5-20251101")] == 1
    assert groups[("compact", "claude-opus-4-6")] == 1
    assert groups[("general-purpose", "claude-sonnet-4-5-20250929")] == 6
    assert sum(groups.values()) == sum(r[2] for r in REFERENCE)
