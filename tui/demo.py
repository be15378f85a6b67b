"""Provides `tiermon --demo`: generated samples in a throwaway folder, and activity appended to them.

The demo runs the real pipeline: `play()` appends the lines of
`samples.generate.live_script` to transcript files the way Claude Code does,
and the app's watcher and tailer pick them up like any other file. Steps are
paced by their own timestamps (sped up, clamped), so a streamed reply
arrives over a few seconds and every pane keeps moving.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tiermon.ingest.config import Settings

SPEED = 2.0
"""Demo time runs this many times faster than the timestamps in the script."""
MIN_STEP, MAX_STEP = 0.4, 2.5
"""Seconds between appends, whatever the script's timestamps say."""


@dataclass(frozen=True)
class DemoWorkspace:
    """Where the demo's samples and database live, and the `now` they were generated at."""

    settings: Settings
    samples: Path
    now: datetime


@contextmanager
def demo_workspace(settings: Settings, now: datetime | None = None) -> Iterator[DemoWorkspace]:
    """Samples generated around `now` in a temp dir, a fresh database beside them; removed after."""
    from tiermon.samples.generate import generate

    now = now or datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="tiermon-demo-") as tmp:
        root = Path(tmp)
        samples = root / "samples"
        generate(samples, now=now)
        demo = replace(
            settings,
            db_path=root / "demo.duckdb",
            data_dir=root / "data",
            sources=[("claude", samples / "claude")],
            api_logs=[samples / "api"],
        )
        yield DemoWorkspace(demo, samples, now)


def play(out_dir: Path, *, now: datetime, stop: Callable[[], bool], sleep: Callable[[float], None] = time.sleep) -> int:
    """Append the live script's steps to files below out_dir until `stop()`; returns steps written."""
    from tiermon.samples.generate import live_script

    previous: datetime | None = None
    written = 0
    for path, lines in live_script(out_dir, now=now):
        stamp = _timestamp(lines)
        gap = (stamp - previous).total_seconds() / SPEED if stamp and previous else MIN_STEP
        previous = stamp or previous
        if _wait(min(max(gap, MIN_STEP), MAX_STEP), stop, sleep):
            break
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
        written += 1
    return written


def _wait(seconds: float, stop: Callable[[], bool], sleep: Callable[[float], None]) -> bool:
    """Sleep in short slices so quitting the app is not held up; True when asked to stop."""
    left = seconds
    while left > 0:
        if stop():
            return True
        step = min(0.1, left)
        sleep(step)
        left -= step
    return stop()


def _timestamp(lines: list[str]) -> datetime | None:
    for line in lines:
        try:
            value = json.loads(line).get("timestamp")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
    return None
