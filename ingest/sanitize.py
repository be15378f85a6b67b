"""Text from a source is hostile (SPEC §8): how it is made safe to store, and to show on any output.

`clean_text` strips ANSI sequences and control characters from text a source
keeps (prompts, tool summaries, errors) before it is stored.

Every field read from a source — model ids, agent ids, project paths,
branches, versions, entry types, prompts — may hold escape sequences, other
control characters or bidi overrides. `printable` makes such text harmless
for a terminal, a CSV file or an HTML page; `json_safe` does the same for
JSON text without changing the data it encodes.

Each unsafe character is replaced by exactly one visible character, so a
string keeps its length: styled spans over it stay where they were, and the
change is visible instead of silent.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING: the status line's path stays free of typing (~3 ms)
    from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10))
"""C0 controls except tab and newline; they never occur inside a multi-byte UTF-8 sequence."""


def clean_text(text: str) -> str:
    """Strip ANSI sequences and C0 control characters from text a source keeps."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    raw = text.encode("utf-8", "surrogatepass")
    kept = raw.translate(None, _CONTROL_BYTES)
    return text if len(kept) == len(raw) else kept.decode("utf-8", "surrogatepass")


REPLACEMENT = "\ufffd"
"""What a C1 control or a bidi control becomes: the Unicode replacement character."""

_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Bidi marks, embeddings, overrides and isolates: they can make text read in another order (Trojan Source)."""

_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
"""C0 controls but newline and tab, DEL, C1 controls (one-byte CSI `\\x9b` among them) and bidi controls."""

_UNSAFE_ANY = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
"""The same, newline and tab included: for text that must stay on one line."""


def _picture(match: re.Match[str]) -> str:
    """C0 controls and DEL as their Unicode Control Pictures (ESC shows as ␛); the rest as U+FFFD."""
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return REPLACEMENT


def printable(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character but newline and tab (or all, if `one_line`) made visible."""
    pattern = _UNSAFE_ANY if one_line else _UNSAFE
    return pattern.sub(_picture, text) if pattern.search(text) else text


def printable_value(value: Any) -> Any:
    """A cell value for a table or CSV: strings made printable, anything else as it is."""
    return printable(value) if isinstance(value, str) else value


_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI}]")
"""What json.dumps leaves raw (it escapes C0 itself): DEL, C1 and bidi controls."""


def json_safe(text: str) -> str:
    """JSON text with DEL, C1 and bidi controls written as \\uXXXX escapes: the same data, nothing raw.

    Such characters can only stand inside JSON string literals, where an escape means the same character.
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def has_unsafe(text: str) -> bool:
    """Whether `text` holds a character `printable` would replace (tests and checks use this)."""
    return _UNSAFE.search(text) is not None
