"""The two small files between `tiermon statusline` and the ingest side, standard library only.

`tiermon statusline` runs on every redraw of Claude Code's status line and
must answer in milliseconds, so it never opens the database. Instead:

- the ingest runner writes **status.json** after each pass: per recent
  session its current model, rung, cost, context and compaction limit and
  alert badges (0600, atomically replaced, so a reader sees the old or the
  new file, never half of one);
- the status line appends each plan-limit reading it is given to
  **limit-readings.jsonl** (only when it differs from the last one appended),
  and the runner imports that file into `limit` events.

Both live in the data dir (TIERMON_DATA_DIR, else the platform's user data
dir, computed here without platformdirs).
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING: the status line's path stays free of typing (~3 ms)
    from pathlib import Path
    from typing import Any

    Folder = str | os.PathLike[str]
    """A folder as text or a Path: the status line's path stays free of pathlib (~6 ms to import)."""

STATE_FILE = "status.json"
READINGS_FILE = "limit-readings.jsonl"
STATE_VERSION = 1
READING_KEYS = ("agent", "session_id", "window", "used_bp", "resets_at", "source")
"""What makes a reading new; `observed_at` alone changing is the same reading again."""
TAIL_BYTES = 4096
"""The end of the readings file read to find the last reading of each window."""


def data_dir(env: dict[str, str] | None = None) -> str:
    """Where tiermon keeps its data: the same folder `platformdirs.user_data_dir("tiermon")` names."""
    env = dict(os.environ) if env is None else env
    if env.get("TIERMON_DATA_DIR"):
        return env["TIERMON_DATA_DIR"]
    home = env.get("HOME") or os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "tiermon")
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(base, "tiermon", "tiermon")
    xdg = env.get("XDG_DATA_HOME", "").strip()
    return os.path.join(xdg or os.path.join(home, ".local", "share"), "tiermon")


def state_path(folder: Folder) -> Path:
    from pathlib import Path

    return Path(folder, STATE_FILE)


def readings_path(folder: Folder) -> Path:
    from pathlib import Path

    return Path(folder, READINGS_FILE)


def write_state(folder: Folder, state: dict[str, Any]) -> None:
    """Replace status.json atomically with mode 0600: written beside it, then renamed over it."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    target = os.path.join(folder, STATE_FILE)
    tmp = os.path.join(folder, f".{STATE_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"version": STATE_VERSION, **state}, fh, separators=(",", ":"), default=str)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_state(folder: Folder) -> dict[str, Any]:
    """status.json as a dict; empty when missing, unreadable or of another version."""
    try:
        with open(os.path.join(folder, STATE_FILE), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else {}


def append_readings(folder: Folder, readings: list[dict[str, Any]]) -> int:
    """Append the readings that differ from the last one of their window; returns how many were written."""
    if not readings:
        return 0
    path = os.path.join(folder, READINGS_FILE)
    last = _last_readings(path)
    fresh = [r for r in readings if last.get(_window_key(r)) != _identity(r)]
    if not fresh:
        return 0
    os.makedirs(folder, mode=0o700, exist_ok=True)
    data = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=True) + "\n" for r in fresh)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, data.encode("ascii"))  # one write with O_APPEND: concurrent status lines never interleave
    finally:
        os.close(fd)
    return len(fresh)


def read_readings(folder: Folder, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete reading lines from byte `offset` (0 when the file shrank), and the offset after them."""
    path = os.path.join(folder, READINGS_FILE)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if offset > size:
                offset = 0
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return [], 0
    end = data.rfind(b"\n") + 1
    out = []
    for line in data[:end].splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            out.append(row)
    return out, offset + end


def _last_readings(path: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(size - TAIL_BYTES, 0))
            tail = fh.read()
    except OSError:
        return {}
    last: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for line in tail.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            last[_window_key(row)] = _identity(row)
    return last


def _window_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row.get("agent"), row.get("window"))


def _identity(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(k) for k in READING_KEYS if k != "session_id")
