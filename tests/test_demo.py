"""The demo's workspace: removed on SIGTERM and SIGHUP, and a clock that never runs ahead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tiermon.tui.demo import play

HOLD = """
import sys, time
from tiermon.ingest.config import load_settings
from tiermon.tui.demo import demo_workspace
with demo_workspace(load_settings()) as ws:
    print(ws.samples.parent, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_temp_folder_removed_on_signal(signum: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    assert proc.stdout is not None
    root = Path(proc.stdout.readline().strip())
    assert root.is_dir() and (root / "samples").is_dir() and (root / "data" / "limit-readings.jsonl").is_file()
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 128 + signum
    assert not root.exists()


def test_play_never_writes_a_future_timestamp(tmp_path: Path) -> None:
    clock = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    steps = 0

    def stop() -> bool:
        return steps >= 30

    def sleep(seconds: float) -> None:
        nonlocal clock, steps
        clock += timedelta(seconds=seconds)  # the wall clock moves slower than the script
        steps += 1

    play(tmp_path, now=clock, stop=stop, sleep=sleep, clock=lambda: clock)
    stamps = []
    for path in tmp_path.rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            stamp = json.loads(line).get("timestamp")
            if stamp:
                stamps.append(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
    assert stamps and max(stamps) <= clock


def test_demo_time_checks_use_the_real_clock() -> None:
    assert abs(time.time() - datetime.now(UTC).timestamp()) < 5
