"""Builders for hand-made Claude Code transcript lines, shaped like the real ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usage(inp: int = 10, out: int = 100, read: int = 0, w5: int = 0, w1h: int = 0, *,
          breakdown: bool = True, **extra: Any) -> dict[str, Any]:  # fmt: skip
    u: dict[str, Any] = {"input_tokens": inp, "cache_creation_input_tokens": w5 + w1h,
                         "cache_read_input_tokens": read, "output_tokens": out, "service_tier": "standard"}  # fmt: skip
    if breakdown:
        u["cache_creation"] = {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1h}
    u.update(extra)
    return u


def envelope(session: str, uuid: str, at: float, *, parent: str | None = None, sidechain: bool = False,
             agent: str | None = None, version: str = "2.1.39", cwd: str = "/home/dev/shop",
             branch: str = "main") -> dict[str, Any]:  # fmt: skip
    e: dict[str, Any] = {"parentUuid": parent, "isSidechain": sidechain, "userType": "external", "cwd": cwd,
                         "sessionId": session, "version": version, "gitBranch": branch, "uuid": uuid,
                         "timestamp": ts(at)}  # fmt: skip
    if agent:
        e["agentId"] = agent
    return e


def assistant(session: str, uuid: str, at: float, msg_id: str, req_id: str | None, model: str,
              u: dict[str, Any], block: dict[str, Any] | None = None, **env: Any) -> dict[str, Any]:  # fmt: skip
    e = envelope(session, uuid, at, **env)
    e.update({"type": "assistant", "requestId": req_id,
              "message": {"model": model, "id": msg_id, "type": "message", "role": "assistant",
                          "content": [block or {"type": "text", "text": "ok"}], "stop_reason": None, "usage": u}})  # fmt: skip
    if req_id is None:
        del e["requestId"]
    return e


def prompt(session: str, uuid: str, at: float, text: str, **env: Any) -> dict[str, Any]:
    e = envelope(session, uuid, at, **env)
    e.update({"type": "user", "message": {"role": "user", "content": text}})
    return e


def write(path: Path, entries: list[dict[str, Any]], *, mode: str = "w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry) + "\n")
