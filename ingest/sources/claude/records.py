"""Typed views of Claude Code transcript lines, holding only the fields tiermon reads.

msgspec skips every field not named here without building Python objects for
it, which is what makes multi-megabyte `progress` and tool-result lines cheap.
Every field is optional: the format is internal to Claude Code and changes
between versions (SPEC §2.1).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from tiermon.ingest.rows import Tokens
from tiermon.ingest.sources.anthropic_usage import Usage


class Block(msgspec.Struct):
    """A content block; `input` and tool-result `content` stay undecoded until needed."""

    type: str | None = None
    text: str | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()
    tool_use_id: str | None = None
    content: msgspec.Raw = msgspec.Raw()
    is_error: bool | None = None


class Message(msgspec.Struct):
    id: str | None = None
    model: str | None = None
    role: str | None = None
    content: str | list[Block] | None = None
    usage: Usage | None = None
    stop_reason: str | None = None


class ToolUseResult(msgspec.Struct):
    """The structured tool result; only the fields that carry signals."""

    model: str | None = None
    agentId: str | None = None
    commandName: str | None = None


class CompactMetadata(msgspec.Struct):
    trigger: str | None = None
    preTokens: Tokens | None = None


class Entry(msgspec.Struct):
    """One transcript line."""

    type: str | None = None
    subtype: str | None = None
    uuid: str | None = None
    parentUuid: str | None = None
    sessionId: str | None = None
    agentId: str | None = None
    isSidechain: bool | None = None
    timestamp: datetime | None = None
    version: str | None = None
    cwd: str | None = None
    gitBranch: str | None = None
    requestId: str | None = None
    isMeta: bool | None = None
    isCompactSummary: bool | None = None
    isApiErrorMessage: bool | None = None
    error: str | None = None
    message: Message | None = None
    toolUseResult: ToolUseResult | str | list[msgspec.Raw] | None = None
    compactMetadata: CompactMetadata | None = None
    content: str | list[msgspec.Raw] | None = None


class ToolInput(msgspec.Struct):
    """Fields of tool_use inputs that the signals and the timeline show."""

    command: str | None = None
    file_path: str | None = None
    path: str | None = None
    pattern: str | None = None
    subagent_type: str | None = None
    description: str | None = None
    model: str | None = None
    prompt: str | None = None
    skill: str | None = None
    url: str | None = None
    query: str | None = None


ENTRY_DECODER = msgspec.json.Decoder(Entry)
TOOL_INPUT_DECODER = msgspec.json.Decoder(ToolInput)
GENERIC_DECODER = msgspec.json.Decoder()
