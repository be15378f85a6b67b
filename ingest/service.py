"""One ingest pass from configured sources into the store: what the CLI and the TUI call."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tiermon.ingest.config import Settings
from tiermon.ingest.pricing import PriceTable, load_price_table
from tiermon.ingest.sources import SourceFile, claude_roots, scan
from tiermon.ingest.store import Store
from tiermon.ingest.tailer import IngestSummary, Parser, Tailer

SignalHook = Callable[[Store, IngestSummary], None]

SIGNALS_MEMORY_LIMIT = "512MB"
"""DuckDB's buffer pool during the signals pass. Its batches read short stretches of time, so
caching every block they touched (up to 80 % of RAM) only grew a rebuild of a 5 M-response
store to 2.4 GB."""


class Ingestor:
    """Owns the tailer's memory and the price table for one process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.prices: PriceTable = load_price_table(settings.price_file)
        self.tailer = Tailer(parsers=_extra_parsers())

    def roots(self) -> list[Path]:
        return claude_roots(self.settings.sources)

    def files(self) -> list[SourceFile]:
        return list(scan(self.roots(), self.settings.api_logs))

    def run(self, progress: Callable[[int, int], None] | None = None) -> IngestSummary:
        """Read whatever is new, then bring the signals of the touched sessions up to date."""
        files = self.files()
        with Store.open(self.settings.db_path) as store:
            store.sync_prices(self.prices)
            summary = self.tailer.ingest(store, files, progress)
        # A second hold for the signals: closing the database hands back the ~100 MB DuckDB keeps
        # after a large load, before the signals pass builds its rows (a first ingest's peak).
        started = time.perf_counter()
        with Store.open(self.settings.db_path, memory_limit=SIGNALS_MEMORY_LIMIT) as store:
            update_signals(store, summary, self, parallel=True)
        summary.signals_seconds = time.perf_counter() - started
        return summary


def _extra_parsers() -> dict[str, Parser]:
    try:
        from tiermon.ingest.api_log import parse_api_chunk
    except ImportError:
        return {}
    return {"api": parse_api_chunk}


def update_signals(store: Store, summary: IngestSummary, ingestor: Ingestor, *, parallel: bool = False) -> None:
    """Signals of the sessions the pass touched; `parallel` only for callers without threads of their own."""
    try:
        from tiermon.ingest.signals.engine import refresh
    except ImportError:
        return
    refresh(store, summary.changed_sessions, ingestor.settings.thresholds, ingestor.prices, parallel=parallel)
