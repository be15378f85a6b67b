"""Model ids: their base form, tier and context window."""

from __future__ import annotations

import re
from functools import lru_cache

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")

TIER_ORDER = {"haiku": 0, "sonnet": 1, "opus": 2}
"""Cheaper to stronger; `other` is outside the order."""


@lru_cache(maxsize=1024)
def model_base(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`; `claude-opus-4-6[1m]` -> `claude-opus-4-6`."""
    base = _CONTEXT_SUFFIX.sub("", model.strip())
    return _DATE_SUFFIX.sub("", base)


@lru_cache(maxsize=1024)
def tier_of(model: str) -> str:
    """Tier by model family (SPEC §3); anything unrecognised is `other`."""
    name = model.lower()
    for tier in ("haiku", "sonnet", "opus"):
        if tier in name:
            return tier
    return "other"


def direction(from_tier: str, to_tier: str) -> str:
    """`down`, `up` or `same-tier` by the order haiku < sonnet < opus."""
    a, b = TIER_ORDER.get(from_tier), TIER_ORDER.get(to_tier)
    if a is None or b is None or a == b:
        return "same-tier"
    return "up" if b > a else "down"
