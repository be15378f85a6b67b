"""`<session>/subagents/agent-<id>.meta.json` sidecars (Claude Code 2.1.x): a subagent's type and task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.rows import Batch


def parse_agent_meta(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """The whole sidecar: one agent_meta row, or a quarantined file when it is not a JSON object."""
    del base_offset, state  # read whole every time it changes
    batch = Batch(lines=1)
    try:
        data = msgspec.json.decode(buf)
    except msgspec.DecodeError as exc:
        batch.quarantine_line(0, buf, f"invalid JSON: {exc}")
        return batch
    if not isinstance(data, dict):
        batch.quarantine_line(0, buf, "not a JSON object")
        return batch
    file = Path(path)
    agent_id = file.name.removeprefix("agent-").removesuffix(".meta.json")
    session = file.parent.parent.name if file.parent.name == "subagents" else None
    batch.agent_meta.append(
        (agent_id, session, _str(data.get("agentType")), _str(data.get("description")), _str(data.get("toolUseId")))
    )
    return batch


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
