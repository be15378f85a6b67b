"""The dashboard's behaviour under Pilot: navigation, filters, opening a session at its place, hostile text."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Select, Static

from tiermon.ingest.config import Settings
from tiermon.ingest.signals.views import list_alerts
from tiermon.ingest.store import Store
from tiermon.tui.app import TiermonApp, make_app
from tiermon.tui.messages import SessionRequested
from tiermon.tui.screens.advice import AdviceScreen
from tiermon.tui.screens.alerts import AlertsScreen
from tiermon.tui.screens.health import HealthScreen
from tiermon.tui.screens.live import LiveScreen
from tiermon.tui.screens.session import SessionScreen
from tiermon.tui.screens.spend import SpendScreen
from transcripts import T0, assistant, prompt, usage, write
from tui_support import (
    DOWNGRADE,
    HOSTILE,
    LIVE,
    app_for,
    build_store,
    settle,
    utc,  # noqa: F401  (autouse fixture)
)

SIZE = (120, 36)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return build_store(tmp_path_factory.mktemp("tui"))


def table_text(table: DataTable, column: int) -> list[str]:  # type: ignore[type-arg]
    return [table.get_row_at(i)[column].plain for i in range(table.row_count)]


async def test_keys_and_palette_reach_every_pane(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LiveScreen)
        for key, screen in (("s", SpendScreen), ("a", AlertsScreen), ("v", AdviceScreen), ("h", HealthScreen),
                            ("l", LiveScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen), key
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Show Advice")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AdviceScreen)


async def test_live_pane_shows_the_live_session_first(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        first = table.coordinate_to_cell_key(Coordinate(0, 0)).row_key.value
        assert first == LIVE
        cells = [getattr(c, "plain", c) for c in table.get_row_at(0)]
        assert cells[0] == "webshop" and cells[1] == "perf/cart" and cells[2] == "opus-4.6"
        assert cells[5] == "warm" and cells[6] == "3m"


async def test_alert_filters_by_text_and_kind(settings: Settings) -> None:
    with Store.open(settings.db_path) as store:
        alerts = list_alerts(store)
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert table.row_count == len(alerts)
        await pilot.press("slash", *"ml-pipeline")
        await pilot.pause()
        assert table.row_count == sum(1 for a in alerts if "ml-pipeline" in (a["project"] or ""))
        app.screen.query_one(Input).value = ""
        app.screen.query_one(Select).value = "thrash"
        await pilot.pause()
        assert table.row_count == sum(1 for a in alerts if a["kind"] == "thrash") > 0
        assert set(table_text(table, 1)) == {"thrash"}


async def test_alert_list_sorts(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("o")  # sort by kind
        await pilot.pause()
        kinds = table_text(table, 1)
        assert kinds == sorted(kinds, reverse=True)
        await pilot.press("r")
        await pilot.pause()
        assert table_text(table, 1) == sorted(kinds)


async def test_enter_on_an_alert_opens_its_session_at_that_turn(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await settle(pilot)
        app.screen.query_one(Select).value = "question_churn"
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        table.focus()
        await pilot.press("enter")
        await settle(pilot)
        session = app.screen
        assert isinstance(session, SessionScreen) and session.session_id == DOWNGRADE
        timeline = session.query_one("#timeline-table", DataTable)
        row = session._rows[timeline.cursor_row]
        assert row["kind"] == "turn" and row["turn"] == 2
        assert timeline.has_focus
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AlertsScreen)


async def test_enter_on_advice_opens_its_session(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SessionScreen)
        assert app.screen._rows  # the timeline filled


async def test_week_picker_moves_back_and_not_past_this_week(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await settle(pilot)
        summary = app.screen.query_one("#spend-summary", Static)
        assert "Week of Mon 23 Nov 2026" in str(summary.render())
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert "Week of Mon 23 Nov 2026" in str(summary.render())
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert "Week of Mon 16 Nov 2026" in str(summary.render())


async def test_hostile_prompt_is_shown_as_text_and_does_nothing(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.post_message(SessionRequested(HOSTILE))
        await settle(pilot)
        timeline = app.screen.query_one("#timeline-table", DataTable)
        what = timeline.get_row_at(0)[5]
        assert isinstance(what, Text)
        assert "[@click=app.quit]this[/]" in what.plain and "\x1b" not in what.plain
        assert not what.spans or all("click" not in str(span.style) for span in what.spans)
        await pilot.click("#timeline-table", offset=(80, 2))  # on the prompt text
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, SessionScreen)


async def test_hostile_project_and_branch_on_the_live_pane(tmp_path: Path) -> None:
    sid = "11111111-2222-4333-8444-555555555555"
    evil = "/home/x/[@click=app.quit]\x1b[2Jproj\x9b31m"
    project_dir = tmp_path / "claude" / "projects" / "-home-x-evil"
    env: dict[str, Any] = {"cwd": evil, "branch": "[b]bold[/b]\x07"}
    write(project_dir / f"{sid}.jsonl", [
        prompt(sid, "u1", 0, "hello [red]there[/red]", **env),
        assistant(sid, "a1", 5, "msg_1", "req_1", "claude-sonnet-4-5", usage(100, 50), **env),
    ])  # fmt: skip
    settings = Settings(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data", db_path=tmp_path / "t.duckdb",
                        sources=[("claude", tmp_path / "claude")])  # fmt: skip
    app = make_app(settings, clock=lambda: T0 + timedelta(minutes=1), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        project, branch = (table.get_row_at(0)[i] for i in (0, 1))
        assert project.plain == "[@click=app.quit]proj31m"
        assert branch.plain == "[b]bold[/b]"
        await pilot.click("#live-table", offset=(3, 1))
        await pilot.pause()
        assert app.is_running


async def test_dark_light_toggle(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.current_theme.dark
        await pilot.press("t")
        assert not app.current_theme.dark


def test_make_app_needs_the_demo_folder(settings: Settings) -> None:
    with pytest.raises(ValueError):
        make_app(settings, demo=True)
    assert isinstance(make_app(settings, watch=False), TiermonApp)


async def test_palette_opens_a_session_by_project(settings: Settings) -> None:
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open session webshop perf")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, SessionScreen) and app.screen.session_id == LIVE


WINDOW_CHROME = {"ff5f57", "febc2e", "28c840", "c5c8c6"}
"""The SVG's window buttons and title, drawn around the terminal whatever the app does."""


async def test_no_color_renders_in_grey(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await settle(pilot)
        svg = app.export_screenshot()
    colours = set(re.findall(r"fill: #([0-9a-f]{6})", svg)) | set(re.findall(r'fill="#([0-9a-f]{6})"', svg))
    colours -= WINDOW_CHROME
    assert app.no_color and colours
    assert all(c[0:2] == c[2:4] == c[4:6] for c in colours), colours


async def test_team_pane_says_how_to_configure_it(settings: Settings) -> None:
    from tiermon.tui.screens.team import NOT_CONFIGURED, TeamScreen

    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, TeamScreen)
        assert NOT_CONFIGURED.split(":")[0] in str(app.screen.query_one("#team-status").render())
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LiveScreen)


async def test_one_model_on_two_rungs_is_two_rows_of_the_models_pane(settings: Settings) -> None:
    """The scorecard keys a row on model, rung, vendor and agent: a model seen on two rungs (its turns
    tiered before and after a models.toml change, or mid-way through a first load) is two rows. Keying the
    table on model and agent alone crashed the dashboard with DuplicateKey (found driving it in tmux)."""
    from tiermon.ingest.reports import ReportFilter
    from tiermon.ingest.scorecard import scorecard, turn_frame
    from tiermon.tui.screens.models import ModelsScreen

    with Store.open(settings.db_path, read_only=True) as store:
        rows = scorecard(turn_frame(store, ReportFilter()))
    twin = {**rows[0], "rung": "small" if rows[0]["rung"] != "small" else "large"}
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen.show({"models": [rows[0], twin, *rows[1:]], "replay": []})
        await pilot.pause()
        assert screen.query_one("#models-table", DataTable).row_count == len(rows) + 1


async def test_a_pane_that_cannot_show_its_data_says_so_and_the_dashboard_stays(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiermon.tui.screens.models import ModelsScreen

    def broken(self: ModelsScreen, data: dict[str, Any]) -> None:
        raise ValueError("a layout bug")

    monkeypatch.setattr(ModelsScreen, "show", broken)
    app = app_for(settings)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, ModelsScreen)
        assert any("a layout bug" in str(n.message) for n in app._notifications)
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, LiveScreen)  # every other pane still works


async def test_the_models_pane_measures_the_last_30_days_and_all_time_on_a_key(tmp_path: Path) -> None:
    """A session 40 days old is out of the default scorecard and replay, in once `A` asks for all time."""
    old, new = "11111111-2222-4333-8444-000000000001", "11111111-2222-4333-8444-000000000002"
    project_dir = tmp_path / "claude" / "projects" / "-home-x-shop"
    day = 86_400.0
    for sid, at, model in ((old, 0.0, "claude-haiku-4-5"), (new, 40 * day, "claude-opus-4-6")):
        write(project_dir / f"{sid}.jsonl", [
            prompt(sid, f"u-{sid}", at, "fix the cart"),
            assistant(sid, f"a-{sid}", at + 5, f"msg_{sid}", f"req_{sid}", model, usage(100, 50)),
        ])  # fmt: skip
    settings = Settings(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data", db_path=tmp_path / "t.duckdb",
                        sources=[("claude", tmp_path / "claude")])  # fmt: skip
    app = make_app(settings, clock=lambda: T0 + timedelta(days=40, minutes=1), watch=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("m")
        await settle(pilot)
        table = app.screen.query_one("#models-table", DataTable)
        assert app.screen.sub_title == "Models · last 30 days"
        assert table_text(table, 0) == ["opus-4-6 *"]
        assert "0 down, 0 up of 1 turns" in str(app.screen.query_one("#models-replay", Static).render())
        await pilot.press("A")
        await settle(pilot)
        assert app.screen.sub_title == "Models · all time"
        assert sorted(table_text(table, 0)) == ["haiku-4-5 *", "opus-4-6 *"]
