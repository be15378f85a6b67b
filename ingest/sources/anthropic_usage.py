"""The Messages API `usage` object, as Claude Code transcripts and API logs both carry it."""

from __future__ import annotations

import msgspec

from tiermon.ingest.rows import Tokens


class CacheCreation(msgspec.Struct):
    ephemeral_5m_input_tokens: Tokens | None = None
    ephemeral_1h_input_tokens: Tokens | None = None


class ServerToolUse(msgspec.Struct):
    web_search_requests: Tokens | None = None


class Usage(msgspec.Struct):
    """Every count is bounded (rows.Tokens): a value out of range fails the decode of its line."""

    input_tokens: Tokens | None = None
    output_tokens: Tokens | None = None
    cache_creation_input_tokens: Tokens | None = None
    cache_read_input_tokens: Tokens | None = None
    cache_creation: CacheCreation | None = None
    server_tool_use: ServerToolUse | None = None
    service_tier: str | None = None
    inference_geo: str | None = None
    speed: str | None = None


def cache_writes(usage: Usage) -> tuple[int, int]:
    """The 5-minute and 1-hour writes: the breakdown when present, else the flat field as 5m (SPEC §3)."""
    flat = usage.cache_creation_input_tokens or 0
    cc = usage.cache_creation
    if cc is not None and (cc.ephemeral_5m_input_tokens is not None or cc.ephemeral_1h_input_tokens is not None):
        w5 = cc.ephemeral_5m_input_tokens or 0
        w1h = cc.ephemeral_1h_input_tokens or 0
        if w5 + w1h == 0 and flat:
            return flat, 0
        return w5, w1h
    return flat, 0
