"""The one ingest path: plan, read, write, then the signals — for the CLI, the dashboard and reports.

A pass finds every registered source's files (`discovery`), reads what is new
in each (`tailer`, in worker processes for a large first load when the caller
allows it), commits rows with the files' new marks, and brings the signals of
the sessions it touched up to date.

DuckDB lets one process open the file at a time. A pass therefore works in
*holds*: once another tiermon knocks (a report, an export, a second
dashboard) and the store has been held `Limits.hold_seconds`, the pass
closes it and pauses long enough for that process's lock retry to get in;
unasked, it lets go every `store.UNASKED_HOLD_SECONDS`. After each hold it
reports what was committed, so panes fill as it goes. A parallel first load
is one hold: its key indexes are built once, at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tiermon.ingest import backfill, tailer
from tiermon.ingest.config import Settings
from tiermon.ingest.discovery import scan, source_roots, watch_paths
from tiermon.ingest.models import classify, load_model_rules, rules_fingerprint, use_rules
from tiermon.ingest.pricing import PriceTable, load_price_table
from tiermon.ingest.rows import SourceFile
from tiermon.ingest.store import Store, lock_wait_seconds
from tiermon.ingest.summary import IngestSummary, ProgressFn


@dataclass(frozen=True)
class Limits:
    """The one set of limits every pass runs under."""

    memory_limit: str = "512MB"
    """DuckDB's buffer pool during a pass. The signals pass reads short stretches of time, so caching
    every block it touched (up to 80 % of RAM by default) only grew a rebuild of a 5 M-response store
    to 2.4 GB; a backfill stays far below it."""
    query_memory_limit: str = "256MB"
    """DuckDB's buffer pool for the dashboard's pane queries: queries over millions of rows stream
    through it instead of caching every block they read."""
    hold_seconds: float = 1.5
    """Longest a pass keeps the database open once another process knocks."""
    pause_seconds: float = 0.35
    """Gap between holds; longer than the 0.25 s lock retry step of another tiermon."""
    chunk_bytes: int = 32 * 1024 * 1024
    chunk_files: int = 512
    """A chunk is the unit between hold-time checks: at most this many bytes or files. Each chunk is one
    transaction of ~10 statements on indexed tables, so small ones cost more in writes than in parsing:
    1 GiB read in one process took 32 s in 8 MB chunks that let go every 1.5 s, 11-12 s in 32-64 MB ones."""
    separate_signals_bytes: int = 64 * 1024 * 1024
    """From this many bytes read in one hold, the signals get a hold of their own: after a large
    load DuckDB keeps ~100 MB that it hands back only on close."""


LIMITS = Limits()

Committed = Callable[[IngestSummary], None]
"""Called after each hold that wrote something, with what that hold committed."""


@dataclass
class Kept:
    """The connection a pass leaves open for its caller's answer (see `Ingestor.answering`)."""

    store: Store | None = None
    stack: ExitStack = field(default_factory=ExitStack)


class Ingestor:
    """Runs passes for one process; holds the price table compiled once for the run."""

    def __init__(self, settings: Settings, limits: Limits = LIMITS, *, signals: bool = True) -> None:
        """With `signals` off, a pass stores rows and leaves the touched sessions' signals owed
        (`staleness.owe`) to the next pass that computes them: for answers that read responses
        only, such as spend reports, which then do not wait for the signals (a third of a first load)."""
        self.settings = settings
        self.limits = limits
        self.signals = signals
        self.prices: PriceTable = load_price_table(settings.price_file, cache_dir=settings.data_dir / "cache")
        use_rules(load_model_rules(settings.models_file))

    def roots(self) -> dict[str, list[Path]]:
        return source_roots(self.settings.sources, self.settings.api_logs)

    def files(self) -> list[SourceFile]:
        return scan(self.roots())

    def watch_paths(self) -> list[str]:
        """Existing folders and files a watcher should observe."""
        return watch_paths(self.roots())

    @contextmanager
    def answering(self) -> Iterator[Store]:
        """A pass, then the store to answer from: the pass's own connection when it finished in one
        hold (the usual case), so a report opens the file once instead of twice (~40 ms each)."""
        kept = Kept()
        with kept.stack:
            self.run(keep=kept)
            if kept.store is not None:
                yield kept.store
                return
        with Store.open(self.settings.db_path, read_only=True) as store:
            yield store

    def run(
        self,
        progress: ProgressFn | None = None,
        committed: Committed | None = None,
        stop: Callable[[], bool] = lambda: False,
        ready: Callable[[], None] | None = None,
        *,
        parallel: bool = True,
        fork: bool = True,
        lock_wait: float | None = None,
        keep: Kept | None = None,
    ) -> IngestSummary:
        """Read whatever is new, in holds, then bring the signals of the touched sessions up to date.

        `parallel` allows worker processes for a large load. `fork` says whether this process may
        fork them: a caller running threads it does not control (the dashboard) passes False, and
        gets spawned parse workers and signals computed in this process. `ready` is called once the
        store is open and migrated, before any reading: from then on other threads of this process
        may open it too. With `keep`, the connection open when the pass completes is left open on
        it for the caller.
        """
        started = time.perf_counter()
        files = self.files()
        total = IngestSummary()
        todo: list[tailer.Work] | None = None
        done = size = 0
        wait = lock_wait_seconds() if lock_wait is None else lock_wait
        while todo is None or todo:
            if todo is not None:
                time.sleep(self.limits.pause_seconds)
            hold = IngestSummary()
            with ExitStack() as closing:
                store = closing.enter_context(
                    Store.open(self.settings.db_path, memory_limit=self.limits.memory_limit, wait=wait)
                )
                if todo is None and store.bulk_load_elsewhere():
                    return total  # another tiermon is loading these files: answer from what it has stored
                if todo is None:
                    store.sync_prices(self.prices)
                    store.sync_model_rules(rules_fingerprint(), classify)
                    if ready:
                        ready()
                    todo = tailer.plan(store, files, total)
                    size = sum(w.pending_bytes for w in todo)
                    if parallel and backfill.worth_it(size, len(todo)):
                        holds = (self.limits.hold_seconds, self.limits.pause_seconds)
                        try:
                            tailer.ingest(store, todo, hold, progress, parallel=True, holds=holds, fork=fork, stop=stop)
                            todo = []
                        except backfill.WorkersUnavailable:
                            pass  # nothing was read: the chunked loop below reads it all here, in holds, stoppable
                while todo and not stop():
                    chunk, todo = self._next_chunk(todo)
                    tailer.ingest(store, chunk, hold, _offset(progress, done, size), parallel=False)
                    done += sum(w.pending_bytes for w in chunk)
                    if store.time_to_let_go(self.limits.hold_seconds):
                        break
                if hold.bytes_read < self.limits.separate_signals_bytes:
                    self._signals(store, hold, parallel and fork, stop)
                if not todo:
                    self._status_files(store)
                    if hold.bytes_read < self.limits.separate_signals_bytes:
                        _hand_over(keep, store, closing)
            if hold.bytes_read >= self.limits.separate_signals_bytes:
                with ExitStack() as closing:
                    store = closing.enter_context(
                        Store.open(self.settings.db_path, memory_limit=self.limits.memory_limit)
                    )
                    self._signals(store, hold, parallel and fork, stop)
                    if not todo:
                        _hand_over(keep, store, closing)
            total.merge(hold)
            total.seconds += hold.seconds
            total.signals_seconds += hold.signals_seconds
            if committed and (hold.files_read or hold.files_unreadable):
                committed(hold)
            if stop():
                break
        total.seconds = time.perf_counter() - started - total.signals_seconds
        return total

    def _status_files(self, store: Store) -> None:
        """The status line's side of the pass: its limit readings in, status.json out."""
        from contextlib import suppress
        from datetime import UTC, datetime

        from tiermon.ingest.statusstate import import_readings, write_state

        folder = self.settings.data_dir
        import_readings(store, folder)
        if not self.signals:
            return  # status.json is made of signals: a pass that computed none leaves the last one
        with suppress(OSError):  # a read-only data dir costs the status line its figures, never the pass
            write_state(store, folder, datetime.now(UTC).replace(tzinfo=None))

    def _next_chunk(self, todo: list[tailer.Work]) -> tuple[list[tailer.Work], list[tailer.Work]]:
        """The next files up to chunk_bytes or chunk_files (at least one), and the rest."""
        size = 0
        for n, work in enumerate(todo):
            if n and (n >= self.limits.chunk_files or size + work.pending_bytes > self.limits.chunk_bytes):
                return todo[:n], todo[n:]
            size += work.pending_bytes
        return todo, []

    def _signals(self, store: Store, summary: IngestSummary, parallel: bool, stop: Callable[[], bool]) -> None:
        """Signals of the sessions the hold touched or an earlier pass owed (all of them when the rules
        changed); owed instead, when this Ingestor leaves signals to others or the pass was stopped
        (a dashboard quitting during a first load does not wait for them)."""
        from tiermon.ingest.signals import staleness

        if not self.signals or stop():
            staleness.owe(store, summary.changed_sessions)
            return
        thresholds, prices = self.settings.thresholds, self.prices
        if not summary.changed_sessions and staleness.up_to_date(store, thresholds, prices):
            return  # the common pass over unchanged data: the engine (and pyarrow) stay unimported
        from tiermon.ingest.signals.engine import refresh

        started = time.perf_counter()
        owed = staleness.owed(store)
        computed = sorted({*summary.changed_sessions, *owed})
        computed_under = store.meta(staleness.FINGERPRINT_KEY)
        try:
            refresh(store, computed, thresholds, prices, parallel=parallel)
        finally:  # a pass stopped midway copies what it did write: each batch of signals commits on its own
            rebuilt = store.meta(staleness.FINGERPRINT_KEY) != computed_under
            store.settle_session_totals(None if rebuilt else computed)
        staleness.settled(store, owed)
        summary.signals_seconds = time.perf_counter() - started


def _hand_over(keep: Kept | None, store: Store, closing: ExitStack) -> None:
    """Leave the pass's last connection open for its caller, when the caller keeps it."""
    if keep is not None:
        keep.store = store
        keep.stack.enter_context(closing.pop_all())


def _offset(progress: ProgressFn | None, base: int, total: int) -> ProgressFn | None:
    """`progress` for one chunk, whose bytes count on from `base` of the whole pass's `total`."""
    if progress is None:
        return None
    return lambda done, _total: progress(base + done, total)
