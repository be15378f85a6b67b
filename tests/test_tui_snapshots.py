"""How each pane looks, on the samples at a frozen `now` (review the SVGs before --snapshot-update)."""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from tiermon.ingest.config import Settings
from tiermon.tui.messages import SessionRequested
from tui_support import (
    COMPACT,
    DOWNGRADE,
    HOSTILE,
    app_for,
    settle,
    snapshot_settings,
    utc,  # noqa: F401  (autouse fixture)
)

WIDE = (120, 36)
SMALL = (80, 24)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return snapshot_settings()


def press_then_settle(*keys: str):  # type: ignore[no-untyped-def]
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run


def open_session(session_id: str, *keys: str):  # type: ignore[no-untyped-def]
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        pilot.app.post_message(SessionRequested(session_id))
        await pilot.pause()
        await settle(pilot)
        if keys:
            await pilot.press(*keys)
            await settle(pilot)

    return run


def test_live(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle())


def test_live_small(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=SMALL, run_before=press_then_settle())


def test_live_light_theme(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=SMALL, run_before=press_then_settle("t"))


def test_spend(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle("s"))


def test_spend_small_previous_week(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=SMALL, run_before=press_then_settle("s", "left_square_bracket"))


def test_alerts(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle("a"))


def test_advice(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle("v"))


def test_models(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle("m"))


def test_health(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle("h"))


def test_session_timeline(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=open_session(DOWNGRADE))


def test_session_subagents(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=open_session(COMPACT, "2"))


def test_session_context_chart(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=open_session(COMPACT, "3"))


def test_session_signals(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=open_session(COMPACT, "4"))


def test_session_hostile_prompt_is_text(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """The prompt `[@click=app.quit]…` and its ANSI escape show as characters, never as markup."""
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=open_session(HOSTILE))


def test_sessions(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(app_for(settings), terminal_size=WIDE, run_before=press_then_settle("e"))


def test_sessions_small_search(snap_compare, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("slash", *"webshop", "enter")  # Enter leaves the box: no blinking cursor in the picture
        await pilot.pause(0.4)
        await settle(pilot)

    assert snap_compare(app_for(settings), terminal_size=SMALL, run_before=run)


def test_welcome(snap_compare, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tiermon.ingest.config import load_settings
    from tiermon.tui.app import make_app
    from tui_support import frozen

    empty = load_settings(db=tmp_path / "t.duckdb", env={"TIERMON_CONFIG_DIR": str(tmp_path / "c"),
                                                         "TIERMON_DATA_DIR": str(tmp_path / "d")})
    app = make_app(empty, clock=frozen, watch=False, first_run=True)
    assert snap_compare(app, terminal_size=SMALL, run_before=press_then_settle())  # the first pass done
