"""The real dashboard in tmux: the Live table fits again when the terminal shrinks from 200×50 to 80×24."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tiermon.ingest.config import Settings, load_settings
from tiermon.samples.generate import generate

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def wait_for(session: str, text: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if text in screen:
            return screen
        time.sleep(0.3)
    raise AssertionError(f"{text!r} not on screen:\n{screen}")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Samples generated around the real now: the app in tmux runs on the real clock."""
    generate(tmp_path / "samples", now=datetime.now(UTC))
    env = {"TIERMON_CONFIG_DIR": str(tmp_path / "config"), "TIERMON_DATA_DIR": str(tmp_path / "data")}
    return load_settings(db=tmp_path / "db" / "t.duckdb", sources=[tmp_path / "samples" / "claude"], env=env)


def test_live_refits_after_shrinking(settings: Settings, tmp_path: Path) -> None:
    session = f"tiermon-resize-{os.getpid()}"
    exe = Path(sys.executable).with_name("tiermon")
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in (
        ("TIERMON_CONFIG_DIR", str(settings.config_dir)), ("TIERMON_DATA_DIR", str(settings.data_dir)),
        ("HOME", os.environ["HOME"]), ("TERM", "xterm-256color")))  # fmt: skip
    sources = settings.sources[0][1]  # type: ignore[index]
    command = (f"env -u COLUMNS -u LINES {env} {exe} --db {shlex.quote(str(settings.db_path))}"  # COLUMNS would pin the size
               f" --source {shlex.quote(str(sources))}")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", command], check=True)
    try:
        wide = wait_for(session, "webshop")
        assert max(len(line) for line in wide.splitlines()) > 150
        subprocess.run(["tmux", "resize-window", "-t", session, "-x", "80", "-y", "24"], check=True)
        time.sleep(0.8)  # well inside the Live pane's 5 s refresh: the re-fit must not wait for it
        small = capture(session)
        header = next(line for line in small.splitlines() if "Project" in line)
        assert "webshop" in small
        assert header.rstrip().endswith("Alerts"), small  # every column fits in 80 cells again
        assert all(len(line) <= 80 for line in small.splitlines())
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
