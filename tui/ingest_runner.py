"""Runs ingest passes for the dashboard in short holds of the database.

DuckDB lets one process open the file at a time, so a backfill of thousands
of files that held it for a minute would lock out `tiermon report` and a
second dashboard. A pass here reads in chunks, keeps the store open for at
most HOLD_SECONDS, then closes it and pauses long enough for another
process's lock retry to get in. After each hold it reports what was
committed, so the panes fill while the backfill runs. No Textual here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from tiermon.ingest.config import Settings
from tiermon.ingest.service import Ingestor, update_signals
from tiermon.ingest.sources import SourceFile
from tiermon.ingest.store import FileMark, Store
from tiermon.ingest.tailer import IngestSummary, ProgressFn, Work

HOLD_SECONDS = 1.5
"""Longest a pass keeps the database open before letting other processes in."""
PAUSE_SECONDS = 0.35
"""Gap between holds; longer than the 0.25 s lock retry step of another tiermon."""
CHUNK_BYTES = 8 * 1024 * 1024
CHUNK_FILES = 64
"""A chunk is the unit between hold-time checks: at most this many bytes or files."""
MEMORY_LIMIT = "256MB"
"""DuckDB's buffer pool in the dashboard: pane queries over millions of rows stream through it
instead of caching every block they read (the Spend and Health panes scan all history)."""
LOCK_WAIT_SECONDS = 2.0
"""How long a pass waits for the database before giving up until the next tick."""


class LiveIngest:
    """One per dashboard: owns the Ingestor (its tailer remembers partial parse state)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ingestor = Ingestor(settings)

    def run(
        self,
        progress: ProgressFn | None = None,
        committed: Callable[[IngestSummary], None] | None = None,
        stop: Callable[[], bool] = lambda: False,
        ready: Callable[[], None] | None = None,
    ) -> IngestSummary:
        """Read everything new; call `committed` after each hold that wrote something.

        `ready` is called once the store is open and migrated, before any reading: from
        then on other threads of this process may open it too.
        """
        started = time.perf_counter()
        files = self.ingestor.files()
        total_summary = IngestSummary(files_seen=len(files))
        chunks: list[list[SourceFile]] | None = None
        sizes: list[int] = []
        done = total = index = 0
        while chunks is None or index < len(chunks):
            if chunks is not None:
                time.sleep(PAUSE_SECONDS)
            held = time.monotonic()
            with Store.open(self.settings.db_path, wait=LOCK_WAIT_SECONDS, memory_limit=MEMORY_LIMIT) as store:
                if chunks is None:
                    store.sync_prices(self.ingestor.prices)
                    if ready:
                        ready()
                    chunks, sizes = _plan(store.file_marks(str(f.path) for f in files), files)
                    total = sum(sizes)
                hold = IngestSummary()
                while index < len(chunks) and not stop():
                    part = self.ingestor.tailer.ingest(store, chunks[index], _chunk_progress(progress, done, total))
                    done += sizes[index]
                    index += 1
                    hold.merge(part)
                    if time.monotonic() - held > HOLD_SECONDS:
                        break
                if hold.changed_sessions:
                    update_signals(store, hold, self.ingestor)
            total_summary.merge(hold)
            if committed and hold.files_read:
                committed(hold)
            if stop():
                break
        total_summary.seconds = time.perf_counter() - started
        return total_summary


def _plan(marks: dict[str, FileMark], files: list[SourceFile]) -> tuple[list[list[SourceFile]], list[int]]:
    """Files with something new, newest first, cut into chunks; with each chunk's new bytes."""
    todo: list[Work] = []
    for source in files:
        try:
            st = source.path.stat()
        except OSError:
            continue
        mark = marks.get(str(source.path))
        if mark and mark.size == st.st_size and mark.mtime == st.st_mtime and mark.inode == st.st_ino:
            continue
        todo.append(Work(source, st, mark))
    todo.sort(key=lambda w: w.st.st_mtime, reverse=True)
    chunks: list[list[SourceFile]] = []
    sizes: list[int] = []
    for work in todo:
        size = work.pending_bytes
        if not chunks or sizes[-1] + size > CHUNK_BYTES or len(chunks[-1]) >= CHUNK_FILES:
            chunks.append([])
            sizes.append(0)
        chunks[-1].append(work.source)
        sizes[-1] += size
    return chunks, sizes


def _chunk_progress(progress: ProgressFn | None, base: int, total: int) -> ProgressFn | None:
    """`progress` for one chunk, whose bytes count on from `base` of the whole pass's `total`."""
    if progress is None:
        return None
    return lambda done, _total: progress(base + done, total)


def source_paths(settings: Settings, ingestor: Ingestor) -> list[str]:
    """Existing folders and files a watcher should observe."""
    paths = [*ingestor.roots(), *settings.api_logs]
    return [str(p) for p in paths if os.path.exists(p)]
