"""`tiermon statusline`: one line for Claude Code's `statusLine` setting, standard library only.

Claude Code runs the command on every redraw and pipes a JSON payload to it
(`model`, `session_id`, `cost`, `context_window`, and from 2.1.80
`rate_limits.five_hour|seven_day` with `used_percentage` and `resets_at`).
This module answers from that payload and from status.json, which the ingest
side keeps (see ingest/statusfiles.py); it never opens the database, never
imports click, rich or duckdb, and records each new plan-limit reading in the
readings file for the next ingest pass.

Every field is hostile text (SPEC §8): control characters become visible,
so a model name cannot move the cursor or recolour the user's terminal.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time

from tiermon.ingest import formatting as fmt, statusfiles
from tiermon.ingest.sanitize import printable

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING: the status line's path stays free of typing (~3 ms)
    from typing import Any

USAGE = """Usage: tiermon statusline [--chain CMD]

  Print one status line for Claude Code from the JSON it passes on stdin:
  model and rung, session cost, context % of the compaction limit, 5-hour
  and weekly plan use with reset countdown, and alert badges. Records the
  plan-limit reading for `tiermon limits`.

Options:
  --chain CMD  Also run CMD (your previous statusLine command) with the same
               stdin and append its output.
  -h, --help   Show this message and exit.
"""

WINDOWS = (("five_hour", "5h", 5 * 3600), ("seven_day", "7d", 7 * 86400))
"""Payload key, tiermon's window name, and the window's length in seconds."""
COMPACT_RESERVE = 33_000
"""SPEC §4.5: Claude Code compacts at the window minus this buffer unless a learned point is known."""
DEFAULT_WINDOW, ONE_M_WINDOW = 200_000, 1_000_000
CHAIN_TIMEOUT = 2.0
SEPARATOR = " · "
RUNGS = ("haiku", "sonnet", "opus")
_GREEN, _YELLOW, _RED, _DIM, _RESET = "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[2m", "\x1b[0m"


def main(args: list[str], *, folder: str | os.PathLike[str] | None = None, stdin: Any = None, out: Any = None) -> int:
    """Run the status line: 0 always once the arguments are good (a status line must not fail)."""
    out = out or sys.stdout
    chain, problem = _arguments(args)
    if problem == "help":
        out.write(USAGE)
        return 0
    if problem:
        sys.stderr.write(f"tiermon statusline: error: {problem}\n")
        return 2
    raw = (stdin or sys.stdin.buffer).read()
    payload = _payload(raw)
    folder = folder or statusfiles.data_dir()
    now = time.time()
    color = "NO_COLOR" not in os.environ
    readings = limit_readings(payload, now)
    try:
        statusfiles.append_readings(folder, readings)
    except OSError:
        readings = []  # a read-only data dir costs the record, never the line
    line = render(payload, statusfiles.read_state(folder), now, color=color)
    if chain:
        extra = _chained(chain, raw, color)
        if extra:
            line = f"{line}{SEPARATOR}{extra}" if line else extra
    out.write(line + "\n")
    return 0


def _arguments(args: list[str]) -> tuple[str | None, str | None]:
    """(--chain command, problem): problem is 'help' or a one-line usage error."""
    chain = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            return None, "help"
        if arg == "--chain":
            if not rest:
                return None, "--chain needs a command"
            chain = rest.pop(0)
        elif arg.startswith("--chain="):
            chain = arg.split("=", 1)[1]
        else:
            return None, f"unexpected argument {printable(arg, one_line=True)!r} (see --help)"
    return chain, None


def _payload(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8", "replace") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) < 1e15 else None  # no NaN, no absurd values


def _text(value: Any, limit: int = 60) -> str:
    return printable(value[:limit], one_line=True) if isinstance(value, str) else ""


def reset_epoch(value: Any) -> float | None:
    """`resets_at` as unix seconds: Claude Code sends seconds; an ISO-8601 string is accepted too."""
    number = _number(value)
    if number is not None:
        return number / 1000 if number > 1e11 else number  # milliseconds, should a version send them
    if isinstance(value, str):
        from datetime import UTC, datetime  # only for a string: Claude Code sends seconds

        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def windows(payload: dict[str, Any], now: float) -> list[tuple[str, float, float, int]]:
    """(window, used %, resets at, length) of each window present and not yet reset; absent is unknown."""
    limits = _dict(payload.get("rate_limits"))
    out = []
    for key, name, length in WINDOWS:
        window = _dict(limits.get(key))
        used = _number(window.get("used_percentage"))
        resets = reset_epoch(window.get("resets_at"))
        if used is None or resets is None or resets <= now:
            continue  # a reading whose reset has passed says nothing about the window now
        out.append((name, max(used, 0.0), resets, length))
    return out


def limit_readings(payload: dict[str, Any], now: float) -> list[dict[str, Any]]:
    """The readings to record: one per window present, in the readings file's shape."""
    session = _text(payload.get("session_id"), 120) or None
    observed = _iso(now)
    return [
        {"observed_at": observed, "agent": "claude-code", "session_id": session, "window": name,
         "used_bp": round(used * 100), "resets_at": _iso(resets), "source": "statusline"}
        for name, used, resets, _length in windows(payload, now)
    ]  # fmt: skip


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))  # datetime's import is ~2 ms of each call


def render(payload: dict[str, Any], state: dict[str, Any], now: float, *, color: bool) -> str:
    """The one line: model and rung, cost, context %, plan windows, alert badges."""
    session_id = payload.get("session_id")
    known = _dict(_dict(state.get("sessions")).get(session_id)) if isinstance(session_id, str) else {}
    parts = [_model_part(payload, known, color), _cost_part(payload, known)]
    parts.append(_context_part(payload, known, state, color))
    for name, used, resets, length in windows(payload, now):
        parts.append(_window_part(name, used, resets, length, now, color))
    parts.append(_badges(known, color))
    return SEPARATOR.join(p for p in parts if p)


def _model_part(payload: dict[str, Any], known: dict[str, Any], color: bool) -> str:
    model = _dict(payload.get("model"))
    name = _text(model.get("display_name")) or _text(model.get("id")) or _text(known.get("model")) or "?"
    rung = _text(known.get("tier"), 12) or rung_of(_text(model.get("id")) or name)
    return f"{name} {_paint(rung, _DIM, color)}" if rung else name


def rung_of(model: str) -> str:
    lowered = model.lower()
    return next((rung for rung in RUNGS if rung in lowered), "")


def _cost_part(payload: dict[str, Any], known: dict[str, Any]) -> str:
    cost = _number(_dict(payload.get("cost")).get("total_cost_usd"))
    if cost is None:
        cost = _number(known.get("cost_usd"))
    return fmt.money(cost) if cost is not None else ""


def context_share(payload: dict[str, Any], known: dict[str, Any], state: dict[str, Any]) -> float | None:
    """Context as a share of the compaction limit (SPEC §4.5): learned point, else window − 33k."""
    window = _dict(payload.get("context_window"))
    usage = _dict(window.get("current_usage"))
    size = _number(window.get("context_window_size"))
    parts = [_number(usage.get(k)) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")]
    tokens: float | None = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
    if tokens is None and size and _number(window.get("used_percentage")) is not None:
        tokens = size * (_number(window.get("used_percentage")) or 0.0) / 100
    if tokens is None:
        tokens = _number(known.get("context_tokens"))
    if tokens is None:
        return None
    model_id = _text(_dict(payload.get("model")).get("id"), 120)
    limit = _number(known.get("context_limit"))
    learned = _dict(state.get("compaction")).get(re.sub(r"-\d{8}$", "", model_id))
    if _number(learned) and "[1m]" not in model_id:
        limit = _number(learned)
    if not limit:
        nominal = size or (ONE_M_WINDOW if "[1m]" in model_id else DEFAULT_WINDOW)
        limit = max(nominal - (_number(state.get("compact_buffer")) or COMPACT_RESERVE), 1.0)
    return tokens / limit


def _context_part(payload: dict[str, Any], known: dict[str, Any], state: dict[str, Any], color: bool) -> str:
    share = context_share(payload, known, state)
    if share is None:
        return ""
    return _paint(f"ctx {share * 100:.0f}%", _level(share * 100), color)


def _window_part(name: str, used: float, resets: float, length: float, now: float, color: bool) -> str:
    elapsed = 1 - (resets - now) / length
    pace = "⇡" if used / 100 > elapsed + 0.1 else ""  # ahead of an even pace through the window
    return f"{name} {_paint(f'{used:.0f}%', _level(used), color)}{pace} ↻{fmt.countdown(resets - now)}"


def _badges(known: dict[str, Any], color: bool) -> str:
    warn = int(_number(known.get("warnings")) or 0)
    info = max(int(_number(known.get("alerts")) or 0) - warn, 0)
    parts = []
    if warn:
        parts.append(_paint(f"▲{warn}", _RED, color))
    if info:
        parts.append(_paint(f"●{info}", _YELLOW, color))
    return " ".join(parts)


def _level(percent: float) -> str:
    return _RED if percent >= 80 else _YELLOW if percent >= 50 else _GREEN


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color and text else text


def _chained(command: str, raw: bytes, color: bool) -> str:
    """The user's previous status-line command, given the same stdin; its output made safe to show."""
    import subprocess

    try:
        result = subprocess.run(  # the user's own configured command, run as Claude Code would run it
            command, shell=True, input=raw, capture_output=True, timeout=CHAIN_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    text = result.stdout.decode("utf-8", "replace").strip("\n")
    colours = re.compile(r"\x1b\[[0-9;]*m")
    lines = []
    for line in text.splitlines():
        kept = colours.split(line)
        codes = colours.findall(line) if color else []
        safe = [printable(piece, one_line=True) for piece in kept]
        lines.append("".join(p + (codes[i] if i < len(codes) else "") for i, p in enumerate(safe)))
    return "\n".join(lines)
