"""Timestamps as the store keeps them: naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def naive_utc(value: Any) -> datetime | None:
    """A naive-UTC datetime from a datetime or an ISO-8601 string, else None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def nulls_last(value: Any) -> tuple[bool, Any]:
    """A sort key that puts None after every value: a line with no readable time must not stop a sort."""
    return (value is None, value)
