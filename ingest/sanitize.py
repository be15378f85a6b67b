"""Text from a source is hostile (SPEC §8): one place that makes it safe to store and show."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10))
"""C0 controls except tab and newline; they never occur inside a multi-byte UTF-8 sequence."""


def clean_text(text: str) -> str:
    """Strip ANSI sequences and control characters."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    raw = text.encode("utf-8", "surrogatepass")
    kept = raw.translate(None, _CONTROL_BYTES)
    return text if len(kept) == len(raw) else kept.decode("utf-8", "surrogatepass")
