"""Provides `tiermon --demo`: generated samples in a throwaway folder, and activity appended to them.

The demo runs the real pipeline: `play()` appends the lines of
`samples.generate.live_script` to transcript files the way Claude Code does,
and the app's watcher and tailer pick them up like any other file. Steps are
paced by their own timestamps (sped up, clamped), so a streamed reply
arrives over a few seconds and every pane keeps moving; a line whose script
time would lie ahead of the clock is written at the clock's time instead,
so the demo never shows activity in the future.

The workspace is a temporary folder, removed when the demo ends — also on
SIGTERM and SIGHUP (a closed terminal), which would otherwise skip cleanup.
"""

from __future__ import annotations

import json
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
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
    with tempfile.TemporaryDirectory(prefix="tiermon-demo-") as tmp, _exit_on_hangup():
        root = Path(tmp)
        samples = root / "samples"
        generate(samples, now=now)
        _plan_readings(root / "data", now)
        demo = replace(
            settings,
            db_path=root / "demo.duckdb",
            data_dir=root / "data",
            sources=[("claude", samples / "claude")],
            api_logs=[samples / "api"],
        )
        yield DemoWorkspace(demo, samples, now)


@contextmanager
def _exit_on_hangup() -> Iterator[None]:
    """SIGTERM and SIGHUP end the process through SystemExit, so `with` blocks (the temp dir) unwind."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    try:
        previous = {sig: signal.signal(sig, leave) for sig in wanted}
    except ValueError:  # not the main thread: leave the handlers alone
        previous = {}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _plan_readings(folder: Path, now: datetime) -> None:
    """Plan-limit readings as the status line would record them, so the Limits strip has data."""
    from tiermon.ingest.formatting import iso_utc as iso
    from tiermon.ingest.statusfiles import append_readings

    def reading(ago_min: int, window: str, used: float, resets: timedelta) -> dict[str, object]:
        return {"observed_at": iso(now - timedelta(minutes=ago_min)), "agent": "claude-code", "session_id": None,
                "window": window, "used_bp": round(used * 100), "resets_at": iso(now + resets), "source": "statusline"}

    hours = timedelta(hours=1)
    append_readings(folder, [reading(95, "5h", 21, 2.5 * hours), reading(95, "7d", 38, 77 * hours)])
    append_readings(folder, [reading(2, "5h", 54, 2.5 * hours), reading(2, "7d", 41, 77 * hours)])


def play(
    out_dir: Path,
    *,
    now: datetime,
    stop: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
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
        moment = clock()
        lines = [_not_after(line, moment) for line in lines]
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


def _not_after(line: str, now: datetime) -> str:
    """The line, its timestamp moved back to `now` if the script (faster than the clock) got ahead."""
    try:
        entry = json.loads(line)
        moment = datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return line
    if moment <= now:
        return line
    entry["timestamp"] = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


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
