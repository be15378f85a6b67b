"""The dashboard's headless parts: pane queries, chunked ingest, the demo player, plain text."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tiermon.ingest.config import Settings
from tiermon.ingest.queries import cache_savings, live_sessions, spend_split
from tiermon.ingest.signals.views import session_timeline
from tiermon.ingest.store import Store
from tiermon.samples.generate import generate
from tiermon.tui import demo
from tiermon.tui.widgets.cells import fill_bar, model_short, money, plain
from tui_support import COMPACT, DOWNGRADE, LIVE, NOW, build_store

NAIVE_NOW = NOW.replace(tzinfo=None)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_store(tmp_path_factory.mktemp("units"))


def test_live_sessions_window_state_and_badges(settings: Settings) -> None:
    with Store.open(settings.db_path) as store:
        live = live_sessions(store, now=NAIVE_NOW, window=timedelta(minutes=30))
        week = live_sessions(store, now=NAIVE_NOW, window=timedelta(days=7))
    assert [r["session_id"] for r in live] == [LIVE]
    row = live[0]
    assert (row["model"], row["tier"], row["branch"]) == ("claude-opus-4-6", "opus", "perf/cart")
    # Where Claude Code compacts an Opus 4.6 run at 200k (window − 33k), not the 1M the price table lists.
    assert row["context_window"] == 167_000 and row["context_tokens"] > 20_000
    assert row["cache_state"] == "warm" and 0 < row["idle_seconds"] < 300
    assert [r["last_activity"] for r in week] == sorted((r["last_activity"] for r in week), reverse=True)
    badges = {r["session_id"]: (r["alerts"], r["warnings"]) for r in week}
    # COMPACT: re-read, cache rebuild, one context_high run (at 80 % of its learned 168k point), compaction.
    assert badges[DOWNGRADE][1] >= 2 and badges[COMPACT][0] >= 4


def test_live_badges_are_the_sessions_alert_rows(settings: Settings) -> None:
    with Store.open(settings.db_path) as store:
        week = live_sessions(store, now=NAIVE_NOW, window=timedelta(days=7))
        counted = {
            sid: (n, warn)
            for sid, n, warn in store.query(
                "SELECT session_id, count(*), count(*) FILTER (WHERE severity = 'warn') FROM alerts GROUP BY 1"
            )
        }
    assert {r["session_id"]: (r["alerts"], r["warnings"]) for r in week} == {
        r["session_id"]: counted.get(r["session_id"], (0, 0)) for r in week
    }


def test_session_reads_keep_rows_outside_the_signals_span(settings: Settings, tmp_path: Path) -> None:
    """Live and Session read a session's responses within its `session_signals` span; rows the
    signals do not cover (API logs, no timestamp, a session without signals) still count."""
    db = tmp_path / "copy.duckdb"
    shutil.copy(settings.db_path, db)
    hour = timedelta(hours=1)
    with Store.open(db) as store:

        def add(suffix: str, sid: str, source: str, ts: datetime | None) -> None:
            """A copy of one of LIVE's responses under another key, session, source and time."""
            store.con.execute(
                """INSERT INTO responses SELECT * REPLACE (k || ? AS k, ? AS session_id, ? AS source_kind,
                       ?::TIMESTAMP AS ts) FROM responses WHERE session_id = ? ORDER BY ts LIMIT 1""",
                [suffix, sid, source, ts, LIVE],
            )

        for n, at in enumerate((-72 * hour, -2 * hour, 24 * hour)):  # an API-log session ...
            add(f"~api{n}", "api-app", "api", NAIVE_NOW + at)
        store.con.execute(  # ... whose only signals row comes from one error event between its responses
            """INSERT INTO session_signals SELECT * REPLACE ('api-app' AS k, 'api-app' AS session_id,
                   ?::TIMESTAMP AS start_ts, ?::TIMESTAMP AS end_ts) FROM session_signals WHERE k = ?""",
            [NAIVE_NOW - hour, NAIVE_NOW - hour, LIVE],
        )
        add("~nots", LIVE, "claude", None)
        add("~new0", "unseen", "claude", NAIVE_NOW - 30 * 24 * hour)  # rows the signals have not seen yet
        add("~new1", "unseen", "claude", NAIVE_NOW - hour)
    with Store.open(db, read_only=True) as store:
        live = {r["session_id"]: r for r in live_sessions(store, now=NAIVE_NOW, window=timedelta(days=7))}
        for sid in ("api-app", LIVE, "unseen"):
            [(count, cost)] = store.query(
                "SELECT count(*), sum(cost_usd) FROM responses WHERE session_id = ?", [sid]
            )
            assert live[sid]["cost_usd"] == pytest.approx(cost)
            timeline = session_timeline(store, sid)
            assert len(timeline["responses"]) == count
            assert sum(m["requests"] for m in timeline["session"]["model_breakdown"]) == count


def test_cache_hint_turns_to_expiring_then_expired(settings: Settings) -> None:
    with Store.open(settings.db_path) as store:
        [soon] = live_sessions(store, now=NAIVE_NOW + timedelta(seconds=60), window=timedelta(minutes=30))
        [gone] = live_sessions(store, now=NAIVE_NOW + timedelta(minutes=5), window=timedelta(minutes=30))
    assert soon["cache_state"] == "expiring"
    assert gone["cache_state"] == "expired"


def test_split_and_cache_savings(settings: Settings) -> None:
    since, until = NAIVE_NOW - timedelta(days=30), NAIVE_NOW + timedelta(days=1)
    with Store.open(settings.db_path) as store:
        split = spend_split(store, since=since, until=until)
        saved = cache_savings(store, since=since, until=until)
        total = store.query("SELECT sum(cost_usd) FROM responses")[0][0]
    assert {r["chain"] for r in split} == {"main", "subagent"}
    assert sum(r["cost_usd"] or 0.0 for r in split) == pytest.approx(total)  # NULL: a part with no price
    assert saved["saved_usd"] > 0 and 0 < saved["hit_ratio"] < 1


def test_demo_player_appends_the_live_script(tmp_path: Path) -> None:
    generate(tmp_path, now=NOW)
    [live_file] = tmp_path.rglob(f"{LIVE}.jsonl")
    before = live_file.stat().st_size
    naps: list[float] = []
    steps = demo.play(tmp_path, now=NOW, stop=lambda: len(naps) > 80, sleep=naps.append)
    assert steps >= 3
    assert live_file.stat().st_size > before
    assert all(0 < nap <= 0.1 for nap in naps)  # short slices: quitting is never held up


def test_plain_text_drops_controls_and_keeps_markup_literal() -> None:
    text = plain("a[@click=app.quit]b\x1b[31mc\x9b2Jd\u202ee\n\tf", 100)
    assert text.plain == "a[@click=app.quit]bc2Jde f"
    assert not text.spans
    assert plain("x" * 10, 5).plain == "xxxx…"
    assert plain("/a/b/c/file.jsonl", 9, tail=True).plain == "…le.jsonl"


def test_cells() -> None:
    assert model_short("claude-sonnet-4-5-20250929") == "sonnet-4.5"
    assert model_short("claude-opus-4-6[1m]") == "opus-4.6[1m]"
    assert money(None).plain == "unpriced"
    assert money(-0.5).plain == "-$0.50"
    assert fill_bar(170_000, 200_000).plain.endswith("85%")


def test_limits_strip_fits_its_width_without_cutting_a_window(settings: Settings) -> None:
    """At 120 columns in full; at 80 with short bars and no reset clock; narrower, a window per line."""
    from zoneinfo import ZoneInfo

    from tiermon.ingest.limits import plan_limits
    from tiermon.tui.widgets.limits_strip import limits_text

    with Store.open(settings.db_path, read_only=True) as store:
        rows = plan_limits(store, now=NOW.replace(tzinfo=None))
    now, utc = NOW.replace(tzinfo=None), ZoneInfo("UTC")
    wide, narrow, tiny = (limits_text(rows, now, utc, width=w) for w in (118, 78, 40))
    assert wide.plain.count("\n") == 0 and "(17:30)" in wide.plain and "7d" in wide.plain
    assert narrow.plain.count("\n") == 0 and narrow.cell_len <= 78
    assert "(17:30)" not in narrow.plain and "↻2h30m" in narrow.plain and "41%" in narrow.plain
    lines = tiny.plain.split("\n")
    assert [line.split()[0] for line in lines] == ["5h", "7d"] and "full 17:07" in lines[0]


@pytest.fixture
def overlapping(tmp_path: Path) -> Path:
    """Sessions whose order by first activity is the reverse of their order by last: A (9:00 to 19:00 the
    next day), B (10:00), C (11:00)."""
    from tiermon.ingest.config import load_settings
    from tiermon.ingest.runner import Ingestor
    from transcripts import assistant, usage, write

    project = tmp_path / "claude" / "projects" / "-home-dev-app"
    hours = {"aaaaaaaa-0000-4000-8000-000000000001": (0, 34), "bbbbbbbb-0000-4000-8000-000000000002": (1,),
             "cccccccc-0000-4000-8000-000000000003": (2,)}  # fmt: skip
    for session, at in hours.items():
        write(project / f"{session}.jsonl", [
            assistant(session, f"{session}-{h}", h * 3600, f"msg_{session}_{h}", f"req_{session}_{h}",
                      "claude-opus-4-6", usage())
            for h in at
        ])  # fmt: skip
    db = tmp_path / "overlapping.duckdb"
    Ingestor(load_settings(db=db, sources=[tmp_path / "claude"])).run()
    return db


@pytest.mark.parametrize(
    "filters",
    [{}, {"agents": ("claude-code",)}, {"since": date(2026, 3, 3)}, {"until": date(2026, 3, 2)}],
)
@pytest.mark.parametrize("limit", [1, 2, 1000])
def test_newest_sessions_first_then_their_columns_equals_the_whole_list_cut(
    overlapping: Path, filters: dict[str, object], limit: int
) -> None:
    """A list with a limit asks for the newest ids, then aggregates only them: the same rows, in the same order,
    as aggregating every session and cutting the list."""
    from tiermon.ingest.sessions import list_sessions

    with Store.open(overlapping, read_only=True) as store:
        whole = list_sessions(store, **filters)  # type: ignore[arg-type]
        assert list_sessions(store, limit=limit, **filters) == whole[:limit]  # type: ignore[arg-type]
    assert [r["session_id"][0] for r in whole] == {"since": ["a"]}.get(next(iter(filters), ""), ["a", "c", "b"])


def test_stored_figures_decode_whatever_json_wrote() -> None:
    """Alert and advice figures are written by json.dumps, which spells a NaN as `NaN`: the fast decoder
    refuses it, so the row falls back to json rather than failing the pane."""
    import math

    from tiermon.ingest.signals.views import _with_figures

    assert _with_figures({"figures": '{"turns": 3, "share": 0.25, "note": "ü"}'})["figures"] == {
        "turns": 3, "share": 0.25, "note": "ü"
    }  # fmt: skip
    assert math.isnan(_with_figures({"figures": '{"ratio": NaN}'})["figures"]["ratio"])
    assert _with_figures({"figures": None})["figures"] == {}
