"""`subagents/<sessionId>/agent-<id>.meta.json` sidecars (Qwen Code ≥ 0.14.5): a subagent's type and task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tiermon.ingest.rows import SUMMARY_LIMIT, Batch
from tiermon.ingest.sanitize import clean_text
from tiermon.ingest.sources.common import text_of

_DECODER = msgspec.json.Decoder()


def parse_agent_meta(buf: bytes | bytearray, base_offset: int, path: str, state: Any) -> Batch:
    """`subagents/<sessionId>/agent-<id>.meta.json`: one agent_meta row (type and task of a subagent)."""
    del base_offset, state  # read whole every time it changes
    batch = Batch(lines=1)
    try:
        data = _DECODER.decode(buf)
    except msgspec.DecodeError as exc:
        batch.quarantine_line(0, buf, f"invalid JSON: {exc}")
        return batch
    if not isinstance(data, dict):
        batch.quarantine_line(0, buf, "not a JSON object")
        return batch
    file = Path(path)
    agent_id = text_of(data.get("agentId")) or file.name.removeprefix("agent-").removesuffix(".meta.json")
    session = text_of(data.get("parentSessionId")) or file.parent.name
    description = text_of(data.get("description"))
    batch.agent_meta.append((agent_id, session, text_of(data.get("agentType")),
                             clean_text(description)[:SUMMARY_LIMIT] if description else None, None))  # fmt: skip
    return batch
