"""Cleaning exported values: secrets scrubbed from every string, transcript text redacted unless kept.

One place decides what counts as transcript text (`TEXT_KEYS`), so tables
and nested signal rows are redacted by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from tiermon.ingest.redact import redact, scrub

TEXT_KEYS = frozenset({"text", "prompt", "command", "commands", "question", "reply", "replies", "snippet",
                       "summary", "description", "input", "response", "message", "last_text", "messages",
                       "discriminator", "detail", "details", "reason"})  # fmt: skip
"""Columns and signal-row keys (at any depth) whose values hold transcript text: redacted by default."""
SIGNAL_TEXT_KEYS = TEXT_KEYS | {"file_path", "path", "paths"}
"""In signal figures a path is what a tool read (the events' `text`, redacted there too); as a table
column, `file_path` is where tiermon read the line, which is kept."""


def _clean(table: pa.Table, *, redacting: bool) -> pa.Table:
    """Scrub every string, redact text columns when `redacting`, and mark timestamps as UTC."""
    for i, col in enumerate(table.schema):
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            clean: Callable[[str], str | None] = redact if redacting and col.name in TEXT_KEYS else scrub
            values = [None if v is None else clean(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, col.name, pa.array(values, pa.string()))
        elif pa.types.is_timestamp(col.type) and col.type.tz is None:
            table = table.set_column(i, col.name, table.column(i).cast(pa.timestamp(col.type.unit, tz="UTC")))
    return table


def _clean_value(value: Any, *, redacting: bool, text: bool = False) -> Any:
    """A signal row cleaned at any depth: strings scrubbed, values under TEXT_KEYS redacted."""
    if isinstance(value, str):
        return redact(value) if text else scrub(value)
    if isinstance(value, dict):
        return {k: _clean_value(v, redacting=redacting, text=text or (redacting and k in SIGNAL_TEXT_KEYS))
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple, set)):
        return [_clean_value(v, redacting=redacting, text=text) for v in value]
    return value
