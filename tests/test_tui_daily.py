"""The everyday panes: Sessions (search, open), the Limits strip at a fixed clock, the first run."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Static

from tiermon.ingest.config import Settings, load_settings
from tiermon.tui.app import make_app
from tiermon.tui.launch import has_data
from tiermon.tui.screens.session import SessionScreen
from tiermon.tui.screens.sessions import SessionsScreen
from tiermon.tui.screens.welcome import WelcomeScreen
from tui_support import (
    DOWNGRADE,
    app_for,
    build_store,
    frozen,
    settle,
    utc,  # noqa: F401  (autouse fixture)
)

SIZE = (120, 36)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_store(tmp_path_factory.mktemp("daily"))


async def test_sessions_pane_lists_every_session_newest_first(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 8  # every Claude Code session of the samples, however old
        heading = str(app.screen.query_one("#sessions-heading", Static).render())
        assert "8 sessions stored" in heading
        assert table.coordinate_to_cell_key(Coordinate(0, 0)).row_key.value == "f1c6d8e3-7b2a-4e95-9f14-8a5b2c6e0d39"


async def test_sessions_search_then_open(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"coupon")
        await pilot.pause(0.4)
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        assert table.coordinate_to_cell_key(Coordinate(0, 0)).row_key.value == DOWNGRADE
        await pilot.press("enter")  # leaves the search for the list
        await pilot.press("enter")  # opens the session
        await settle(pilot)
        assert isinstance(app.screen, SessionScreen)
        assert app.screen.session_id == DOWNGRADE


async def test_sessions_search_matches_nothing(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        app.screen.query_one(Input).value = "100%_no_such"
        await pilot.pause(0.4)
        await settle(pilot)
        assert app.screen.query_one(DataTable).row_count == 0
        assert "nothing matches" in str(app.screen.query_one("#sessions-heading", Static).render())


async def test_palette_finds_old_sessions(settings: Settings) -> None:
    from tiermon.tui.widgets.session_commands import SessionCommands

    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        provider = SessionCommands(app.screen)
        await provider.startup()
        hits = [hit async for hit in provider.search("epoch")]  # a 3-day-old session the Live list dims
        assert any("ml-pipeline" in str(hit.text) for hit in hits)


async def test_limits_strip_from_recorded_readings(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        strip = app.screen.query_one("#live-limits", Static)
        text = str(strip.render())
        assert strip.display
        assert "5h" in text and "54%" in text and "↻2h30m (17:30)" in text
        assert "full 17:07" in text  # 33 % in 93 minutes: the other 46 % by 17:07, before the 17:30 reset
        assert "7d" in text and "41%" in text
        assert "99%" not in text  # the earlier window has reset: void


def test_limits_cli_json_contract(settings: Settings) -> None:
    from tiermon.ingest.limits import LIMIT_FIELDS, plan_limits
    from tiermon.ingest.store import Store
    from tiermon.tui.commands.limits import json_row
    from tui_support import NOW

    with Store.open(settings.db_path, read_only=True) as store:
        rows = [json_row(r) for r in plan_limits(store, now=NOW.replace(tzinfo=None))]
    assert [tuple(r) for r in rows] == [LIMIT_FIELDS] * 2
    five = rows[0]
    assert five["window"] == "5h" and five["used_percent"] == 54 and five["resets_at"] == "2026-11-23T17:30:00Z"
    assert five["projected_full_at"] == "2026-11-23T17:07:38Z" and five["source"] == "statusline"


async def test_first_run_offers_the_demo(tmp_path: Path) -> None:
    settings = load_settings(db=tmp_path / "none" / "t.duckdb", env={"TIERMON_CONFIG_DIR": str(tmp_path / "c"),
                                                                      "TIERMON_DATA_DIR": str(tmp_path / "d")})
    (Path.home() / ".claude" / "projects").mkdir(parents=True)  # an empty projects folder is no data
    assert not has_data(settings)
    app = make_app(settings, clock=frozen, watch=False, first_run=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        body = str(app.screen.query_one("#welcome-body", Static).render())
        assert "found no sessions" in body and "demo" in body
        await pilot.press("d")
        await pilot.pause()
    assert app.wants_demo


async def test_first_run_can_wait_for_data(tmp_path: Path) -> None:
    settings = load_settings(db=tmp_path / "t.duckdb", env={"TIERMON_CONFIG_DIR": str(tmp_path / "c"),
                                                            "TIERMON_DATA_DIR": str(tmp_path / "d")})
    app = make_app(settings, clock=frozen, watch=False, first_run=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, WelcomeScreen)
        assert "No sessions" in str(app.screen.query_one("#live-heading", Static).render())
    assert not app.wants_demo


def test_has_data_with_a_transcript(settings: Settings) -> None:
    assert has_data(settings)


async def test_spend_all_time(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        week = str(app.screen.query_one("#spend-summary", Static).render())
        await pilot.press("A")
        await settle(pilot)
        every = str(app.screen.query_one("#spend-summary", Static).render())
        assert week.startswith("Week of") and every.startswith("All time")
        assert app.screen.query_one(DataTable).row_count >= 3  # every project ever, not only this week's


async def test_team_pane_leaves_on_escape(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await pilot.pause()
        assert app.current_mode == "team"
        await pilot.press("escape")
        await pilot.pause()
        assert app.current_mode == "live"
