"""The per-session totals the Sessions list reads are kept by every write: they always equal a regroup of
the stored responses, whatever the order of appends, streamed copies, first loads and re-pricing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from test_signals_chat import HAIKU, OPUS, Chat, S, ingest, main_file
from tiermon.ingest import backfill, sessions
from tiermon.ingest.config import load_settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.schema import RETOTAL_SQL, SESSION_TOTAL_COLUMNS
from tiermon.ingest.sessions import count_sessions, list_sessions
from tiermon.ingest.signals import staleness
from tiermon.ingest.store import Store
from transcripts import assistant, prompt, usage, write

S2 = "5e551011-aaaa-4bbb-8ccc-000000000002"
S3 = "5e551011-aaaa-4bbb-8ccc-000000000003"
DAY = 86_400.0


def _kept_and_regrouped(db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The kept rows, and the rows a regroup of every response makes, by column (costs rounded: sums may
    add up in another order)."""
    with Store.open(db, read_only=True) as store:
        kept = store.query("SELECT * FROM session_totals ORDER BY k")
        regroup = RETOTAL_SQL[1].removeprefix("INSERT INTO session_totals ")
        fresh = store.query(f"SELECT * FROM ({regroup}) ORDER BY 1")

    def named(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        out = [dict(zip(SESSION_TOTAL_COLUMNS, row, strict=True)) for row in rows]
        for row in out:
            row["cost_usd"] = None if row["cost_usd"] is None else round(row["cost_usd"], 9)
        return out

    return named(kept), named(fresh)


def test_totals_follow_appends_streamed_copies_and_an_old_session_touched_again(tmp_path: Path) -> None:
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    old = Chat(session=S, start=0.0).prompt("a").say("b", model=OPUS).say("b2", model=OPUS)
    old.save(main_file(root, S))
    ingest(root, db)
    new = Chat(session=S2, start=30 * DAY).prompt("c").say("d", model=OPUS).say("e", model=HAIKU)
    new.save(main_file(root, S2))
    ingest(root, db)
    # One pass touches the month-old session (a streamed final copy of its reply with more output, and a new
    # reply on another model), the newer one, and a session it has never seen.
    streamed = dict(old.lines[-1], message=dict(old.lines[-1]["message"]))
    streamed["message"]["usage"] = dict(streamed["message"]["usage"], output_tokens=9_000)
    old.lines = [streamed]
    old.say("f", model=HAIKU).save(main_file(root, S), mode="a")
    new.lines = []
    new.say("g", model=OPUS).save(main_file(root, S2), mode="a")
    Chat(session=S3, start=31 * DAY).prompt("h").say("i").save(main_file(root, S3))
    ingest(root, db)

    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh
    assert [(r["k"], r["requests"]) for r in kept] == [(S, 3), (S2, 3), (S3, 1)]  # the streamed copy replaced, not added
    with Store.open(db, read_only=True) as store:
        listed = list_sessions(store, limit=10)
        assert [s["session_id"] for s in listed] == [S3, S2, S]
        assert listed[2]["models"] == sorted([HAIKU, OPUS])
        assert listed[2]["first_prompt"] == "a"
        assert count_sessions(store) == 3
        assert [s["session_id"] for s in list_sessions(store, limit=1)] == [S3]


def test_totals_are_made_once_after_a_first_load_and_again_after_a_repricing(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    for n, session in enumerate((S, S2)):
        Chat(session=session, model="claude-zephyr-9", start=n * DAY).prompt("a").say("b").save(main_file(root, session))
    monkeypatch.setattr(backfill, "PARALLEL_MIN_BYTES", 0)  # a first load in workers: rows appended unkept,
    monkeypatch.setenv("TIERMON_WORKERS", "2")  # the totals made once at its end
    ingest(root, db)
    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh
    assert [(r["k"], r["cost_usd"], r["unpriced_requests"]) for r in kept] == [(S, None, 1), (S2, None, 1)]  # unpriced: unknown cost

    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text(
        'version = "team-1"\n[models."claude-zephyr-9"]\ntier = "opus"\ninput = 10\noutput = 50\n'
        "write_5m = 12.5\nwrite_1h = 20\ncache_read = 1\n"
    )
    monkeypatch.setattr(backfill, "PARALLEL_MIN_BYTES", 64 * 1024 * 1024)
    ingest(root, db)  # the new price file re-prices every stored row
    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh
    assert all(r["cost_usd"] and r["cost_usd"] > 0 and r["unpriced_requests"] == 0 for r in kept)


def test_first_prompts_and_turns_follow_owed_signals_and_a_rebuild(tmp_path: Path) -> None:
    """A report's pass stores responses and owes the signals: the list shows the new session without its
    first prompt until a pass computes them; after a rules change recomputes every session, the copied
    prompts and turn counts still equal the signals'."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    settings = load_settings(db=db, sources=[root])
    Chat(session=S).prompt("fix the cart").say("b").prompt("and the tests").say("c").save(main_file(root, S))
    Ingestor(settings, signals=False).run()
    with Store.open(db, read_only=True) as store:
        assert [(s["requests"], s["first_prompt"], s["turns"]) for s in list_sessions(store, limit=5)] == [(2, None, 0)]
    Ingestor(settings).run()
    with Store.open(db, read_only=True) as store:
        assert [(s["first_prompt"], s["turns"]) for s in list_sessions(store, limit=5)] == [("fix the cart", 2)]
    with Store.open(db) as store:
        store.execute("UPDATE session_totals SET first_prompt = NULL, turns = NULL")  # what a rebuild must restore
        staleness.mark_stale(store)
    Ingestor(settings).run()
    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh
    assert [(r["first_prompt"], r["turns"]) for r in kept] == [("fix the cart", 2)]


@pytest.mark.parametrize("lookup_max", [sessions.QUIET_LOOKUP_MAX, 0], ids=["looked-up", "anti-joined"])
def test_every_limit_lists_the_head_of_the_whole_list_on_real_sessions(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lookup_max: int
) -> None:
    """A list with a limit takes its rows newest first from the totals and keeps the sessions without usage
    (Codex Desktop's) that end after its last row: it must list exactly the head of the unlimited list,
    whether the sessions without usage are looked up by key or anti-joined."""
    monkeypatch.setattr(sessions, "QUIET_LOOKUP_MAX", lookup_max)
    kinds = {"cc-": "claude", "codex-": "codex", "gemini-": "gemini"}
    sources = [(kind, folder) for folder in sorted(corpus.iterdir()) for prefix, kind in kinds.items()
               if folder.name.startswith(prefix)]  # fmt: skip
    db = tmp_path / "t.duckdb"
    Ingestor(load_settings(db=db, sources=sources)).run()  # in one process: big batches, kept as they are written
    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh
    with Store.open(db, read_only=True) as store:
        whole = list_sessions(store)
        assert any(s["requests"] == 0 for s in whole) and len(whole) == count_sessions(store) >= 10
        for limit in range(1, len(whole) + 2):
            for agents in ((), ("codex",)):
                assert list_sessions(store, limit=limit, agents=agents) == list_sessions(store, agents=agents)[:limit]


def test_appended_responses_add_to_their_session_as_a_regroup_would(tmp_path: Path) -> None:
    """A live pass that only appends new responses adds them to the kept row instead of regrouping the
    session: after a reply on an unpriced model, one on another branch, a line older than the session's
    first (a subagent's file read late) and one with no branch, the row still equals a regroup."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    path = main_file(root, S)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        (100.0, "claude-haiku-4-5", "/home/dev/shop", "main"),
        (200.0, "claude-zephyr-9", "/home/dev/shop/api", "feature"),  # unpriced: its cost is unknown
        (50.0, "claude-opus-4-6", "/home/dev/early", "old"),  # older than the first: project and start move
        (300.0, "claude-haiku-4-5", "/home/dev/shop", None),  # no branch named: the branch stays
    ]
    for n, (at, model, cwd, branch) in enumerate(lines):
        line = assistant(S, f"a{n}", at, f"msg_{n}", f"req_{n}", model, usage(), cwd=cwd, branch=branch)
        with path.open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        ingest(root, db)
        kept, fresh = _kept_and_regrouped(db)
        assert kept == fresh, n
    (row,) = kept
    assert (row["project"], row["branch"], row["requests"], row["unpriced_requests"]) == (
        "/home/dev/early", "feature", 4, 1
    )  # fmt: skip


@pytest.mark.parametrize("copy_file", ["a-resumed.jsonl", "z-resumed.jsonl"])
def test_a_response_repeated_under_another_session_moves_or_stays_whole(tmp_path: Path, copy_file: str) -> None:
    """A response's key does not hold its session: a resumed session's file repeats a reply of another
    session under its own id. Whichever copy the store keeps (the earlier path, at equal output), both
    sessions' rows equal a regroup, and the list neither breaks nor shows a session without responses."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    project = root / "projects" / "-home-dev-shop"
    write(project / "m-first.jsonl", [
        prompt(S, "u1", 0, "hello"),
        assistant(S, "a1", 1, "msg_1", "req_1", "claude-opus-4-6", usage()),
        assistant(S, "a2", 2, "msg_2", "req_2", "claude-opus-4-6", usage()),
    ])  # fmt: skip
    ingest(root, db)
    write(project / copy_file, [prompt(S2, "u9", 0, "hello"),
                                assistant(S2, "a1", 1, "msg_1", "req_1", "claude-opus-4-6", usage())])  # fmt: skip
    ingest(root, db)
    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh
    moved = copy_file < "m-first.jsonl"  # the copy at the earlier place wins (SPEC §3)
    assert [(r["k"], r["requests"]) for r in kept] == ([(S, 1), (S2, 1)] if moved else [(S, 2)])
    with Store.open(db, read_only=True) as store:
        listed = {s["session_id"]: s["requests"] for s in list_sessions(store)}
        assert listed[S] == (1 if moved else 2) and count_sessions(store) == len(listed)


def test_rows_without_a_working_folder_leave_the_project_as_a_regroup_would(tmp_path: Path) -> None:
    """The project is the first response's that names one: appended rows without a cwd change nothing."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    path = main_file(root, S)
    path.parent.mkdir(parents=True, exist_ok=True)
    for n, (at, cwd) in enumerate([(100.0, None), (200.0, "/home/dev/shop"), (50.0, None), (20.0, "/home/dev/x")]):
        line = assistant(S, f"a{n}", at, f"msg_{n}", f"req_{n}", "claude-opus-4-6", usage())
        if cwd is None:
            del line["cwd"]
        else:
            line["cwd"] = cwd
        with path.open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        ingest(root, db)
        kept, fresh = _kept_and_regrouped(db)
        assert kept == fresh, n
    assert kept[0]["project"] == "/home/dev/x"


def test_the_list_fills_during_a_first_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first load in workers commits as it goes: the sessions it committed are listed before it ends."""
    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    for n, session in enumerate((S, S2, S3)):
        Chat(session=session, start=n * DAY).prompt("a").say("b").save(main_file(root, session))
    monkeypatch.setattr(backfill, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(backfill, "COMMIT_ROWS", 1)  # a commit per worker message
    monkeypatch.setenv("TIERMON_WORKERS", "2")
    seen: list[int] = []
    commit = Store.commit

    def commit_and_look(self: Store, pending: Any) -> None:
        commit(self, pending)
        if self._bulk:
            seen.append(len(list_sessions(self, limit=10)))

    monkeypatch.setattr(Store, "commit", commit_and_look)
    ingest(root, db)
    assert seen and seen[0] > 0 and seen[-1] == 3  # listed from the first commit on
    kept, fresh = _kept_and_regrouped(db)
    assert kept == fresh


def test_signals_written_before_a_pass_stops_reach_the_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch of signals commits on its own: a pass stopped after writing some (Ctrl-C, an error) still
    copies their first prompts and turn counts, or the list would show the session without them for good."""
    from tiermon.ingest.signals import engine

    root, db = tmp_path / "claude", tmp_path / "t.duckdb"
    Chat(session=S).prompt("fix the cart").say("b").save(main_file(root, S))
    refresh = engine.refresh

    def refresh_then_stop(*args: Any, **kwargs: Any) -> int:
        refresh(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "refresh", refresh_then_stop)
    with pytest.raises(KeyboardInterrupt):
        ingest(root, db)
    with Store.open(db, read_only=True) as store:
        assert [(s["first_prompt"], s["turns"]) for s in list_sessions(store, limit=5)] == [("fix the cart", 1)]
