"""Helpers the non-Claude agent sources share: token checks, times, and telling local models apart.

Local models (formats/local-models.md §2): a request is local when its
provider is a local server (Ollama, LM Studio, llama.cpp, vLLM), when the
base URL the agent recorded is a loopback or `.local` host, or when the model
id is an Ollama-style `name:tag` (`qwen3-coder:30b`) that is not one of
Ollama's cloud tags or an OpenRouter variant (`…:free`). Local rows get the
vendor `local`: their API fee is $0, and they must never read as unpriced.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec

MAX_TOKENS = 2**53
"""Token counts at or above this are not real counts (and lose precision as JSON numbers)."""

LOCAL_VENDOR = "local"
LOCAL_PROVIDERS = frozenset({"ollama", "lmstudio", "lm-studio", "llama.cpp", "llamacpp", "llama-cpp", "vllm"})
"""Provider ids of local inference servers (OpenCode `providerID`, Codex `model_provider`)."""
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
_HOSTED_TAGS = frozenset({"free", "beta", "extended", "thinking", "online", "nitro", "floor", "exacto", "cloud"})
"""`:tag` suffixes that mean a hosted model: OpenRouter variants and Ollama's cloud models."""
_NAME_TAG = re.compile(r"^[A-Za-z0-9._\-/]+:([A-Za-z0-9._\-]+)$")


class LineProblem(ValueError):
    """Why a record cannot be used; the message is the quarantine reason."""


def token(value: object, what: str) -> int:
    """A token count: absent/null is 0; anything but a non-negative integer below 2**53 is a LineProblem."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer() and 0 <= value < MAX_TOKENS:
            return int(value)
        raise LineProblem(f"{what} is not an integer token count: {str(value)[:40]!r}")
    if not 0 <= value < MAX_TOKENS:
        raise LineProblem(f"{what} is out of range: {value}")
    return value


def is_local_model(model: str) -> bool:
    """An Ollama-style `name:tag` id that is not a hosted variant (`:free`, `:cloud`, `…-cloud`)."""
    match = _NAME_TAG.match(model.strip())
    if match is None:
        return False
    tag = match.group(1).lower()
    # `:0`-style tags are Bedrock version suffixes (`anthropic.claude-…-v1:0`), not Ollama tags
    return tag not in _HOSTED_TAGS and not tag.endswith("-cloud") and not tag.isdigit()


def is_local_url(url: str) -> bool:
    """A base URL on this machine or the LAN's `.local` names."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in _LOOPBACK_HOSTS or host.startswith("127.") or host.endswith(".local")


def ts_from_iso(value: object) -> datetime | None:
    """An ISO-8601 time as naive UTC (naive input is taken as UTC); None if it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def ts_from_ms(value: object) -> datetime | None:
    """Epoch milliseconds as naive UTC; None if it is not a plausible number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def text_of(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def obj_of(value: object) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (lenient reading of nested fields)."""
    return value if isinstance(value, dict) else {}


SUMMARY_KEYS = ("command", "absolute_path", "filePath", "file_path", "path", "pattern", "url", "query", "description",
                "prompt")  # fmt: skip
"""Tool-call arguments that say best what a call does, in the order they are looked for."""


def summarise(args: dict[str, Any]) -> str | None:
    """The command (whitespace collapsed), the path, or a short description of a tool call's arguments."""
    from tiermon.ingest.rows import SUMMARY_LIMIT
    from tiermon.ingest.sanitize import clean_text

    for key in SUMMARY_KEYS:
        value = text_of(args.get(key))
        if value:
            text = " ".join(value.split()) if key == "command" else value
            return clean_text(text)[:SUMMARY_LIMIT]
    return clean_text(msgspec.json.encode(args).decode()[:SUMMARY_LIMIT]) if args else None


T = TypeVar("T")


def line_starts(buf: bytes | bytearray) -> list[int]:
    """Offsets of the non-blank lines of `buf`: the lines `decode_lines` returns values for."""
    starts: list[int] = []
    append = starts.append
    find = buf.find
    pos, size = 0, len(buf)
    while pos < size:
        end = find(b"\n", pos)
        if end == -1:
            end = size
        if end > pos and (buf[pos] == 0x7B or buf[pos:end].strip()):
            append(pos)
        pos = end + 1
    return starts


def decode_all(decoder: msgspec.json.Decoder[T], buf: bytes | bytearray, lines: int) -> list[T] | None:
    """Every line of a JSONL read at once; None when a line is bad, so the caller goes line by line.

    `decode_lines` reads a stream of values, so a truncated line could merge
    with the next: the value count must equal the line count (`line_starts`).
    """
    try:
        values = decoder.decode_lines(buf)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return values if len(values) == lines else None
