"""Opening the store with a memory bound, as the dashboard does."""

from __future__ import annotations

from pathlib import Path

from tiermon.ingest.runner import LIMITS
from tiermon.ingest.store import Store


def test_a_memory_limit_bounds_duckdb_for_that_hold_only(db: Path) -> None:
    with Store.open(db, memory_limit=LIMITS.query_memory_limit) as store:
        limited = store.query("SELECT current_setting('memory_limit')")[0][0]
    with Store.open(db) as store:
        default = store.query("SELECT current_setting('memory_limit')")[0][0]
    assert limited == "244.1 MiB"  # 256 MB
    assert limited != default
