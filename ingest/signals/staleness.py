"""When stored signals are stale: the fingerprint of what computed them, agents typed too early, and
sessions whose signals a report left owed.

Kept apart from the engine so that an ingest pass which read nothing new can
tell, without importing the rules (pyarrow and every signal module), that
there is nothing to recompute: the common case of a `tiermon report`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tiermon.ingest.config import Thresholds
    from tiermon.ingest.pricing import PriceTable
    from tiermon.ingest.store import Store

RULES_VERSION = 1
"""Bump when a signal's logic changes, so stored signals are recomputed once."""
FINGERPRINT_KEY = "signals_fingerprint"
"""The `meta` key holding the fingerprint the stored signals were computed under."""
NOT_RULES = frozenset({"__init__.py", "views.py", "pool.py", "staleness.py", "writes.py"})
"""Modules that read, schedule or date signals but do not decide what is stored: editing them must not
make every store recompute its signals (at 5 M responses that is minutes)."""
_RULES_SOURCE = Path(__file__).parent

STALE_AGENTS_SQL = """
SELECT DISTINCT a.session_id FROM agents a JOIN agent_meta m ON m.agent_id = a.agent_id
WHERE m.agent_type IS NOT NULL AND a.agent_type IS DISTINCT FROM m.agent_type
  AND a.agent_type NOT IN ('warmup', 'compact')
"""
"""Sessions whose agents were typed before their meta.json arrived (sidecars touch no session)."""


def fingerprint(thresholds: Thresholds, prices: PriceTable) -> str:
    """Everything stored signals depend on besides the rows: rules, thresholds, prices."""
    data = {"rules": rules_fingerprint(), "thresholds": asdict(thresholds), "prices": prices.fingerprint,
            "reference": prices.reference_models}  # fmt: skip
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """RULES_VERSION and the signal modules' source: a new tiermon recomputes what an old one stored."""
    digest = hashlib.sha256(str(RULES_VERSION).encode())
    for path in sorted(_RULES_SOURCE.glob("*.py")):
        if path.name in NOT_RULES:
            continue
        try:
            digest.update(path.read_bytes())
        except OSError:
            continue
    return digest.hexdigest()[:16]


def mark_stale(store: Store) -> None:
    """Forget what the stored signals were computed under: the next pass recomputes every session."""
    store.execute("DELETE FROM meta WHERE key = ?", [FINGERPRINT_KEY])


def up_to_date(store: Store, thresholds: Thresholds, prices: PriceTable) -> bool:
    """True when, without new rows, the engine would find nothing to recompute."""
    return (
        store.meta(FINGERPRINT_KEY) == fingerprint(thresholds, prices)
        and not store.query(STALE_AGENTS_SQL)
        and not store.query("SELECT 1 FROM signals_owed LIMIT 1")
    )


def owe(store: Store, sessions: Iterable[str]) -> None:
    """Leave these sessions' signals to the next pass that computes signals (a report answers first)."""
    ids = sorted(s for s in sessions if s)
    if ids:
        store.execute("INSERT OR IGNORE INTO signals_owed SELECT unnest(?::VARCHAR[])", [ids])


def owed(store: Store) -> list[str]:
    """Sessions whose signals an earlier pass left to compute."""
    return [str(r[0]) for r in store.query("SELECT session_id FROM signals_owed")]


def settled(store: Store, sessions: list[str]) -> None:
    """These sessions' signals are computed: no longer owed."""
    if sessions:
        store.execute("DELETE FROM signals_owed WHERE session_id IN (SELECT unnest(?::VARCHAR[]))", [sessions])
