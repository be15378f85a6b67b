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
from datetime import datetime
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tiermon.ingest.config import Settings, load_settings
from tiermon.ingest.runner import Ingestor
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


def build_store(root: Path) -> Settings:
    """Ingest the samples once and pin the wall-clock columns to NOW."""
    settings = sample_settings(root)
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
