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

MEMORY_LIMIT = "512MB"
"""DuckDB's buffer pool during a pass. The signals pass reads short stretches of time, so
caching every block it touched (up to 80 % of RAM by default) only grew a rebuild of a
5 M-response store to 2.4 GB; a backfill stays far below it."""
SEPARATE_SIGNALS_BYTES = 64 * 1024 * 1024
"""From this many bytes read, the signals get a hold of their own (see `Ingestor.run`)."""


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
        db = self.settings.db_path
        with Store.open(db, memory_limit=MEMORY_LIMIT) as store:
            store.sync_prices(self.prices)
            summary = self.tailer.ingest(store, files, progress)
            if summary.bytes_read < SEPARATE_SIGNALS_BYTES:
                self._signals(store, summary)
                return summary
        # After a large load DuckDB keeps ~100 MB it hands back only on close: a second hold for
        # the signals keeps a first ingest's peak (which is in the signals pass) under 400 MB.
        with Store.open(db, memory_limit=MEMORY_LIMIT) as store:
            self._signals(store, summary)
        return summary

    def _signals(self, store: Store, summary: IngestSummary) -> None:
        started = time.perf_counter()
        update_signals(store, summary, self, parallel=True)
        summary.signals_seconds = time.perf_counter() - started


def _extra_parsers() -> dict[str, Parser]:
    from tiermon.ingest.api_log import parse_api_chunk

    return {"api": parse_api_chunk}


def update_signals(store: Store, summary: IngestSummary, ingestor: Ingestor, *, parallel: bool = False) -> None:
    """Signals of the sessions the pass touched; `parallel` only for callers without threads of their own."""
    from tiermon.ingest.signals.staleness import up_to_date

    thresholds, prices = ingestor.settings.thresholds, ingestor.prices
    if not summary.changed_sessions and up_to_date(store, thresholds, prices):
        return  # the common pass over unchanged data: the engine (and pyarrow) stay unimported
    from tiermon.ingest.signals.engine import refresh

    refresh(store, summary.changed_sessions, thresholds, prices, parallel=parallel)
