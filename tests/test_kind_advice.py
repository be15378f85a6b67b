"""The Advice pane's list: the engine's advice and the by-kind rows, read no wider than it shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from test_signals_chat import HAIKU, OPUS, Chat, S, ingest, main_file
from tiermon.ingest.kinds import kind_advice, newest_advice, with_kind_advice
from tiermon.ingest.pricing import load_price_table
from tiermon.ingest.reports import ReportFilter
from tiermon.ingest.schema import RECOUNT_TURN_KINDS_SQL
from tiermon.ingest.scorecard import MIN_TURNS, turn_frame
from tiermon.ingest.signals import staleness
from tiermon.ingest.signals.views import list_advice
from tiermon.ingest.store import Store

T0 = datetime(2026, 5, 1, 9, 0)
RUNG_MODELS = {"small": "claude-haiku-4-5-20251001", "mid": "claude-sonnet-4-5-20250929"}


def _turn(session: str, n: int, at: datetime, rung: str, struggled: bool) -> tuple[object, ...]:
    model = RUNG_MODELS[rung]
    tier = "haiku" if rung == "small" else "sonnet"
    return (f"{session}:{n}", session, n, at, tier, rung, model, "Read", 2, struggled, 0.05, 0.05, 400, 9000)


@pytest.fixture
def store_with_kind_advice(tmp_path: Path) -> Path:
    """Haiku did Read turns of 1–2 calls as well as Sonnet did (by struggle rate), and the engine
    advised some of the Sonnet turns itself: those turns must show once, as the engine's row."""
    db = tmp_path / "t.duckdb"
    turns = [_turn("small-s", n, T0 + timedelta(minutes=n), "small", n == 1) for n in range(1, MIN_TURNS + 3)]
    mid = [_turn("mid-s", n, T0 + timedelta(days=1, minutes=7 * n), "mid", n % 4 == 0) for n in range(1, 41)]
    advised = [t for t in mid if t[2] in (5, 13, 22, 30, 37, 39)]  # not struggling: the by-kind rule picks them too
    with Store.open(db) as store:
        store.execute_many(
            """INSERT INTO turns (k, session_id, turn, start_ts, tier, rung, model, dominant_tool, tool_calls,
                                  struggled, cost_usd, main_cost_usd, output_tokens, input_tokens)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [*turns, *mid],
        )
        store.execute_many(
            """INSERT INTO advice (k, session_id, project, kind, from_tier, to_tier, to_model, turn, start_ts, end_ts,
                                   cost_usd, counterfactual_cost_usd, saving_usd, reason, figures)
               VALUES (?, ?, 'p', 'de-escalate', 'sonnet', 'haiku', 'claude-haiku-4-5', ?, ?, ?, 0.05, 0.01, 0.04,
                       'the engine', '{}')""",
            [(f"mid-s:{t[2]}:de-escalate", "mid-s", t[2], t[3], t[3]) for t in advised],
        )
        store.execute_many("INSERT INTO session_signals (k, session_id, project) VALUES (?, ?, ?)",
                           [("small-s", "small-s", "/home/dev/small"), ("mid-s", "mid-s", "/home/dev/mid")])  # fmt: skip
        for stmt in RECOUNT_TURN_KINDS_SQL:  # what a signals write keeps with the turns it writes
            store.execute(stmt)
    return db


def _key(row: dict[str, object]) -> tuple[object, ...]:
    return (row["session_id"], row["project"], row["turn"], row["reason"], row["start"], row["cost_usd"],
            row["counterfactual_cost_usd"])  # fmt: skip


@pytest.mark.parametrize("limit", [1, 3, 6, 10, 25, 1000])
def test_the_pane_list_equals_the_merge_of_every_engine_and_by_kind_row(
    store_with_kind_advice: Path, limit: int
) -> None:
    prices = load_price_table()
    with Store.open(store_with_kind_advice, read_only=True) as store:
        engine = list_advice(store)
        by_kind = kind_advice(turn_frame(store, ReportFilter()), prices)
        want = with_kind_advice(engine, by_kind, limit=limit)
        got = newest_advice(store, prices, limit)
    assert len(engine) == 6 and len(by_kind) > len(engine)  # the case is real: both kinds, overlapping turns
    assert {r["project"] for r in by_kind} == {"/home/dev/mid"}  # the by-kind rows name their session's project
    assert [_key(r) for r in got] == [_key(r) for r in want]
    turns = [(r["session_id"], r["turn"]) for r in got]
    assert len(turns) == len(set(turns))  # an advised turn shows once
    if limit == 1000:
        assert {r["reason"] for r in got if r["turn"] in (5, 13, 22, 30, 37, 39)} == {"the engine"}


S2 = "5e551011-aaaa-4bbb-8ccc-0000000000k2"


def _kept_and_counted(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`turn_kinds` as the signals writes kept it, and as a count of the stored turns makes it."""
    with Store.open(db, read_only=True) as store:
        kept = store.query("SELECT * FROM turn_kinds ORDER BY k")
        recount = RECOUNT_TURN_KINDS_SQL[1].removeprefix("INSERT INTO turn_kinds ")
        counted = store.query(f"SELECT * FROM ({recount}) ORDER BY 1")
    return kept, counted


def test_turn_kinds_follow_every_signals_write(tmp_path: Path) -> None:
    """The per-kind counts the Advice pane compares move with the turns: a first load, a session that goes
    on (its turns replaced, one of them now struggling), a new session, and a rebuild of every session."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    chat = Chat(session=S).prompt("look").say("ok", model=HAIKU)
    chat.read("/src/a.py", model=HAIKU)
    chat.save(main_file(root, S))
    ingest(root, db)
    kept, counted = _kept_and_counted(db)
    assert kept == counted and sum(int(row[4]) for row in kept) == 1

    chat.lines = []
    chat.prompt("fix it").say("trying", model=OPUS)
    for _ in range(3):
        chat.bash("pytest", error=True, model=OPUS)  # three failed attempts: the turn struggled
    chat.save(main_file(root, S), mode="a")
    Chat(session=S2, start=3_600).prompt("hello").say("hi", model=OPUS).save(main_file(root, S2))
    ingest(root, db)
    kept, counted = _kept_and_counted(db)
    assert kept == counted
    assert sum(int(row[4]) for row in kept) == 3 and sum(int(row[5]) for row in kept) == 1

    with Store.open(db) as store:
        staleness.mark_stale(store)
        store.execute("DELETE FROM turn_kinds")  # a rebuild counts every turn again, whatever was kept
    ingest(root, db)
    assert _kept_and_counted(db) == (kept, counted)
