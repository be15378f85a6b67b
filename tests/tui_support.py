"""Helpers for the dashboard tests: a store built from the samples at a frozen `now`, and waiting.

The snapshot data lives at a fixed path (paths show on the Health pane) and
its wall-clock columns are pinned, so every run renders the same screens.
API logs are left out: a bare API response is dated when first read, which
would move with the day the tests run.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tiermon.ingest.config import Settings, load_settings
from tiermon.ingest.formatting import iso_utc
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.statusfiles import append_readings
from tiermon.ingest.store import Store
from tiermon.samples.generate import DEFAULT_NOW, generate
from tiermon.tui.app import TiermonApp, make_app
from tiermon.tui.screens.base import DataScreen

NOW = DEFAULT_NOW
"""The frozen clock of every dashboard test: the samples' own anchor."""
SNAPSHOT_ROOT = Path(tempfile.gettempdir()) / "tiermon-tui-snapshots"

DOWNGRADE = "d7b3e1f9-4a6c-4d28-8c5e-0b9f2a7d3e41"
HOSTILE = "e5a9c4b2-1f7d-4b3e-a6c8-3d0e5f1b9a72"
LIVE = "f1c6d8e3-7b2a-4e95-9f14-8a5b2c6e0d39"
COMPACT = "c2f8a3e6-9d1b-4a57-b0e4-6f3c8d9a2b17"


def frozen() -> datetime:
    return NOW


def sample_settings(root: Path) -> Settings:
    """Samples generated at NOW below root, settings pointing at them and at root/db/tiermon.duckdb."""
    samples = root / "samples"
    if not samples.exists():
        generate(samples, now=NOW)
    env = {"TIERMON_CONFIG_DIR": str(root / "config"), "TIERMON_DATA_DIR": str(root / "data")}
    return load_settings(db=root / "db" / "tiermon.duckdb", sources=[samples / "claude"], env=env)


def record_readings(folder: Path) -> None:
    """Plan-limit readings as the status line records them: 5h from 21 % to 54 % in 93 minutes,
    resetting 2h30 after NOW; 7d at 41 %; and a 5h reading of an earlier window that has reset."""
    def reading(minutes_ago: int, window: str, used: int, resets: timedelta) -> dict[str, object]:
        return {"observed_at": iso_utc(NOW - timedelta(minutes=minutes_ago)), "agent": "claude-code",
                "session_id": LIVE, "window": window, "used_bp": used * 100, "resets_at": iso_utc(NOW + resets),
                "source": "statusline"}

    append_readings(folder, [reading(400, "5h", 99, timedelta(hours=-1))])
    append_readings(folder, [reading(95, "5h", 21, timedelta(hours=2.5)), reading(95, "7d", 41, timedelta(days=3))])
    append_readings(folder, [reading(2, "5h", 54, timedelta(hours=2.5))])


def build_store(root: Path) -> Settings:
    """Ingest the samples (and recorded limit readings) once and pin the wall-clock columns to NOW."""
    settings = sample_settings(root)
    record_readings(settings.data_dir)
    Ingestor(settings).run()
    pinned = NOW.replace(tzinfo=None)
    with Store.open(settings.db_path) as store:
        store.con.execute("UPDATE files SET first_ingest = ?, last_ingest = ?", [pinned, pinned])
        store.con.execute('UPDATE quarantine SET "at" = ?', [pinned])
    return settings


def snapshot_settings() -> Settings:
    """The fixed-path store the snapshot tests render (rebuilt once per test session)."""
    shutil.rmtree(SNAPSHOT_ROOT, ignore_errors=True)
    return build_store(SNAPSHOT_ROOT)


def app_for(settings: Settings, *, watch: bool = False) -> TiermonApp:
    return make_app(settings, clock=frozen, watch=watch)


async def settle(pilot: Pilot[None], timeout: float = 15.0) -> None:
    """Wait until ingest is done and the visible pane has shown its data."""
    app = pilot.app
    assert isinstance(app, TiermonApp)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await pilot.pause()
        screen = app.screen
        loading = isinstance(screen, DataScreen) and screen.is_loading
        if app.store_ready and not app.is_ingesting and not loading:
            await pilot.pause()
            return
        await pilot.pause(0.05)
    raise AssertionError("the dashboard did not settle")


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are local: make local UTC so tests and snapshots do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
