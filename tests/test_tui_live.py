"""Live ingest in the running dashboard, and other tiermon processes on the same database meanwhile."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable

from tiermon.ingest.config import Settings
from tiermon.samples.generate import live_script
from tiermon.tui.app import TiermonApp
from tui_support import (
    LIVE,
    NOW,
    app_for,
    build_store,
    settle,
    utc,  # noqa: F401  (autouse fixture)
)

SIZE = (120, 36)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return build_store(tmp_path)


def append_steps(settings: Settings, steps: int) -> None:
    """Continue the live session as Claude Code would: a few lines at a time."""
    root = settings.sources[0][1].parent  # type: ignore[index]
    for path, lines in itertools.islice(live_script(root, now=NOW), steps):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))


def live_cost(app: TiermonApp) -> str:
    table = app.screen.query_one(DataTable)
    cell: Text = table.get_row(LIVE)[3]
    return cell.plain


async def wait_until(pilot, condition, timeout: float = 8.0) -> float:  # type: ignore[no-untyped-def]
    """Poll the app (it keeps running between polls) until condition() holds; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")


async def test_appended_lines_reach_the_live_pane(settings: Settings) -> None:
    app = app_for(settings, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = live_cost(app)
        append_steps(settings, 12)
        took = await wait_until(pilot, lambda: live_cost(app) != before)
        print(f"live pane changed {took:.2f}s after the append")
        assert took < 5.0, took
        turns = app.screen.query_one("#live-detail").render()
        assert "webshop" in str(turns)


async def test_report_export_and_a_second_dashboard_while_the_app_runs(settings: Settings, tmp_path: Path) -> None:
    exe = str(Path(sys.executable).with_name("tiermon"))
    common = ["--db", str(settings.db_path), "--source", str(settings.sources[0][1])]  # type: ignore[index]
    env = {**os.environ, "TIERMON_LOCK_WAIT": "10"}
    app = app_for(settings, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        append_steps(settings, 6)  # the app is ingesting while the others start

        async def run(*args: str) -> tuple[int, bytes, bytes]:
            proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE, env=env)
            out, err = await proc.communicate()
            return proc.returncode or 0, out, err

        report, export, second = await asyncio.gather(
            run(exe, *common, "report", "daily", "--json"),
            run(exe, *common, "export", "--out", str(tmp_path / "export"), "--format", "jsonl", "--json"),
            run(sys.executable, "-c", SECOND_DASHBOARD, str(settings.db_path), str(settings.sources[0][1])),  # type: ignore[index]
        )
        assert report[0] == 0, report[2].decode()
        assert json.loads(report[1])
        assert export[0] == 0, export[2].decode()
        assert second[0] == 0, second[2].decode()
        assert int(second[1].decode().split()[-1]) >= 1  # the second dashboard listed sessions
        assert app.is_running
        await settle(pilot)
        assert app.status.phase == "live"


SECOND_DASHBOARD = """
import asyncio, sys
from pathlib import Path
from tiermon.ingest.config import load_settings
from tiermon.tui.app import make_app
from tiermon.samples.generate import DEFAULT_NOW

async def main():
    settings = load_settings(db=Path(sys.argv[1]), sources=[Path(sys.argv[2])])
    app = make_app(settings, clock=lambda: DEFAULT_NOW, watch=True)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            table = app.screen.query_one("DataTable")
            if app.store_ready and table.row_count:
                break
        print(table.row_count)

asyncio.run(main())
"""


async def test_demo_moves_the_live_pane(tmp_path: Path) -> None:
    from tiermon.ingest.config import load_settings
    from tiermon.tui.app import make_app
    from tiermon.tui.demo import demo_workspace

    base = load_settings(db=tmp_path / "ignored.duckdb")
    with demo_workspace(base) as workspace:
        assert workspace.settings.db_path.parent != tmp_path
        app = make_app(workspace.settings, demo=True, workspace=workspace)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.store_ready and LIVE in app.screen.query_one(DataTable).rows)
            before = live_cost(app)
            took = await wait_until(pilot, lambda: live_cost(app) != before, timeout=15)
            print(f"demo moved the live pane after {took:.1f}s")
    assert not workspace.samples.exists()


async def test_a_first_load_parses_in_spawned_workers_and_stores_what_the_cli_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's first load of a large history uses worker processes like `tiermon ingest` (40 s for
    1 GiB in its own thread before, 8 s now); it runs threads, so they are spawned, not forked, and must
    start from inside a Textual app, whose stderr has no file descriptor."""
    from tiermon.ingest import backfill
    from tiermon.ingest.runner import Ingestor
    from tiermon.ingest.store import Store
    from tiermon.ingest.summary import IngestSummary
    from tui_support import sample_settings

    settings = sample_settings(tmp_path / "dashboard")
    reference = sample_settings(tmp_path / "cli")
    Ingestor(reference).run(parallel=False)
    monkeypatch.setattr(backfill, "PARALLEL_MIN_BYTES", 0)  # the samples are small: load them as a big history
    monkeypatch.setattr(backfill, "TASK_BYTES", 16 * 1024)  # in several tasks
    monkeypatch.setenv("TIERMON_WORKERS", "2")
    app = app_for(settings)
    passes: list[IngestSummary] = []
    run = app.ingestor.run

    def recorded(*args: Any, **kwargs: Any) -> IngestSummary:
        passes.append(run(*args, **kwargs))
        return passes[-1]

    monkeypatch.setattr(app.ingestor, "run", recorded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, timeout=60)
    assert passes and passes[0].parse_workers == 2
    tables = ("SELECT k, cost_usd, output_tokens FROM responses ORDER BY k", "SELECT count(*) FROM events",
              "SELECT kind, session_id, start_ts, message FROM alerts ORDER BY ALL")  # fmt: skip
    with Store.open(settings.db_path, read_only=True) as a, Store.open(reference.db_path, read_only=True) as b:
        for sql in tables:
            assert a.query(sql) == b.query(sql), sql


async def test_every_pane_of_the_demo_shows_without_an_error(tmp_path: Path) -> None:
    """The demo reads API logs as well as transcripts: API batches have signals without models, which once
    listed them twice in Sessions and crashed the pane (DuplicateKey). Each pane is opened and must show rows."""
    from tiermon.ingest.config import load_settings
    from tiermon.tui.app import make_app
    from tiermon.tui.demo import demo_workspace

    with demo_workspace(load_settings(db=tmp_path / "ignored.duckdb")) as workspace:
        app = make_app(workspace.settings, demo=True, workspace=workspace)
        def shows_rows() -> bool:  # the demo's player keeps ingesting: wait for the pane, not for quiet
            tables = list(app.screen.query(DataTable))
            return not tables or any(t.row_count for t in tables)

        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.store_ready, timeout=30)
            for key in "seavmhl":
                await pilot.press(key)
                await wait_until(pilot, shows_rows, timeout=30)
                assert app.is_running, key
            await pilot.press("e")
            await wait_until(pilot, shows_rows, timeout=30)
            sessions = app.screen.query_one("#sessions-table", DataTable)
            assert {"api:batch-results", "api:nightly-eval"} <= {str(k.value) for k in sessions.rows}
