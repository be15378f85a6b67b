"""Reads what is new in each source file and commits it with the file's new offset.

Per file the store remembers identity (device, inode, hash of the first bytes
already consumed) and the offset just past the last complete line. A read
starts there; a line without its newline waits for the next read; a file that
shrank or whose head changed is read again from 0 (row keys make that
harmless); a line over MAX_LINE_BYTES is quarantined and skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from io import BufferedIOBase
from typing import BinaryIO

from tiermon.ingest import backfill
from tiermon.ingest.gc_pause import paused_gc
from tiermon.ingest.parse import Batch, FileState, parse_chunk
from tiermon.ingest.sources import SourceFile
from tiermon.ingest.store import FileMark, Pending, Store

HEAD_BYTES = 4096
"""How much of a file's start identifies it across renames and rewrites."""
CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes read and parsed at a time: bounds memory on multi-gigabyte files."""
SCAN_BYTES = 1024 * 1024
"""Read size while looking for the end of a line longer than a chunk."""
MAX_LINE_BYTES = 256 * 1024 * 1024
"""Longer lines are quarantined unread (real progress lines reach ~95 MB)."""
FLUSH_ROWS = 50_000
"""Rows gathered before a commit: many small files share one transaction."""
FLUSH_BYTES = 64 * 1024 * 1024
"""Bytes read before a commit, so a big file commits (and bounds memory) as it goes."""

Parser = Callable[[bytes | bytearray, int, str, FileState], Batch]


@dataclass
class IngestSummary:
    """What one pass over the sources did, for the CLI summary and the Health pane."""

    files_seen: int = 0
    files_read: int = 0
    files_reset: int = 0
    bytes_read: int = 0
    lines: int = 0
    responses: int = 0
    events: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    """Reading, parsing and writing rows."""
    signals_seconds: float = 0.0
    """Recomputing the signals of the sessions the pass touched (set by the ingest service)."""
    changed_sessions: set[str] = field(default_factory=set)

    def add(self, batch: Batch) -> None:
        self.lines += batch.lines
        self.responses += batch.response_count
        self.events += batch.event_count
        self.quarantined += len(batch.quarantine)
        self.changed_sessions.update(s for s in batch.responses.get("session_id", ()) if s)
        self.changed_sessions.update(s for s in batch.events.get("session_id", ()) if s)

    def merge(self, part: IngestSummary) -> None:
        """Add the counts and sessions of `part`, a piece of this pass (not its files seen or timings)."""
        self.files_read += part.files_read
        self.files_reset += part.files_reset
        self.bytes_read += part.bytes_read
        self.lines += part.lines
        self.responses += part.responses
        self.events += part.events
        self.quarantined += part.quarantined
        self.changed_sessions |= part.changed_sessions


ProgressFn = Callable[[int, int], None]
"""Called with (bytes done, bytes total) as the pass advances."""


class Tailer:
    """Remembers per-file parse state between passes; one per long-running process."""

    def __init__(self, parsers: dict[str, Parser] | None = None) -> None:
        self.parsers: dict[str, Parser] = {"claude": parse_chunk, **(parsers or {})}
        self._states: dict[str, FileState] = {}

    def ingest(self, store: Store, files: Iterable[SourceFile], progress: ProgressFn | None = None) -> IngestSummary:
        """One pass: read every file's new bytes into the store."""
        started = time.perf_counter()
        summary = IngestSummary()
        files = list(files)
        marks = store.file_marks(str(source.path) for source in files)
        todo: list[Work] = []
        for source in files:
            summary.files_seen += 1
            try:
                st = source.path.stat()
            except OSError:
                continue  # vanished between scan and stat: its rows stay
            mark = marks.get(str(source.path))
            if mark is not None and mark.size == st.st_size and mark.mtime == st.st_mtime and mark.inode == st.st_ino:
                continue
            todo.append(Work(source, st, mark))
        # Newest first, so a dashboard opened during a backfill fills with current sessions.
        todo.sort(key=lambda w: w.st.st_mtime, reverse=True)
        sidecars = Pending()
        for work in todo:
            if work.source.kind == "agent-meta":
                agent_meta(work.source, work.st, sidecars)
        store.commit(sidecars)
        todo = [w for w in todo if w.source.kind != "agent-meta" and w.source.kind in self.parsers]
        total = sum(w.pending_bytes for w in todo)
        with paused_gc():
            if backfill.worth_it(total, len(todo)):
                backfill.run(self, store, todo, summary, progress)
            else:
                self._serial(store, todo, summary, total, progress)
        summary.seconds = time.perf_counter() - started
        return summary

    def _serial(
        self, store: Store, todo: list[Work], summary: IngestSummary, total: int, progress: ProgressFn | None
    ) -> None:
        """Read files one by one in this process, committing many reads per transaction."""
        pending = Pending()
        pending_bytes = done = 0
        for work in todo:
            opened = False
            for batch, mark, nbytes, reset in read_file(work, self.parsers[work.source.kind], self._states):
                opened = True
                if reset:
                    summary.files_reset += 1
                    continue
                pending.add(mark, batch)
                summary.add(batch)
                summary.bytes_read += nbytes
                pending_bytes += nbytes
                if progress:
                    progress(done + max(mark.offset - work.start, 0), total)
                if pending.rows >= FLUSH_ROWS or pending_bytes >= FLUSH_BYTES:
                    store.commit(pending)
                    pending, pending_bytes = Pending(), 0
            summary.files_read += opened
            done += work.pending_bytes
            if progress:
                progress(done, total)
        store.commit(pending)


def agent_meta(source: SourceFile, st: os.stat_result, pending: Pending) -> None:
    """Read one `agent-<id>.meta.json` sidecar into `pending`: its row and its mark."""
    try:
        data = json.loads(source.path.read_text("utf-8"))
    except (OSError, ValueError):
        data = None
    agent_id = source.path.name.removeprefix("agent-").removesuffix(".meta.json")
    session = source.path.parent.parent.name if source.path.parent.name == "subagents" else None
    if isinstance(data, dict):
        pending.agent_meta.append(
            (agent_id, session, _str(data.get("agentType")), _str(data.get("description")), _str(data.get("toolUseId")))
        )
    pending.marks[str(source.path)] = FileMark(
        str(source.path), "agent-meta", st.st_dev, st.st_ino, "", st.st_size, st.st_mtime, st.st_size, 0
    )


@dataclass
class Work:
    """A file with bytes the store has not seen: its stat and the mark left by the last read."""

    source: SourceFile
    st: os.stat_result
    mark: FileMark | None

    @property
    def start(self) -> int:
        return _start(self.mark, self.st)

    @property
    def pending_bytes(self) -> int:
        return max(self.st.st_size - self.start, 0)


def read_file(
    work: Work, parser: Parser, states: dict[str, FileState], chunk: int | None = None
) -> Iterator[tuple[Batch, FileMark, int, bool]]:
    """Parse a file's new complete lines: yields (batch, the file's mark after it, bytes read, reset).

    Yields nothing if the file cannot be opened, else at least one item. A
    file that shrank, changed inode or changed its head is read again from 0
    with a fresh parse state: that yields one item with `reset=True` first.
    `states` holds the parse state per path and is updated in place; `chunk`
    is the read size (default CHUNK_BYTES).
    """
    source, st, mark = work.source, work.st, work.mark
    path = str(source.path)
    try:
        fh = open(source.path, "rb")  # noqa: SIM115 - only the open may fail quietly; `with fh` below closes it
    except OSError:
        return
    with fh:
        offset = mark.offset if mark else 0
        lines = mark.lines if mark else 0
        head = _head_hash(fh, min(HEAD_BYTES, offset)) if mark else ""
        if mark is not None and (st.st_size < mark.offset or st.st_ino != mark.inode or head != mark.head_hash):
            offset, lines = 0, 0
            states.pop(path, None)
            yield Batch(), mark, 0, True
        state = states.setdefault(path, FileState())
        start = offset
        for buf, buf_offset, consumed_to, oversized in _complete_lines(fh, offset, st.st_size, chunk or CHUNK_BYTES):
            batch = parser(buf, buf_offset, path, state)
            for bad_offset, length in oversized:
                batch.quarantine.append((bad_offset, length, f"line longer than {MAX_LINE_BYTES} bytes", ""))
            lines += batch.lines + len(oversized)
            offset = consumed_to
            new_mark = FileMark(
                path=path, source_kind=source.kind, dev=st.st_dev, inode=st.st_ino,
                head_hash=_head_hash(fh, min(HEAD_BYTES, offset)), size=st.st_size,
                mtime=st.st_mtime, offset=offset, lines=lines,
            )  # fmt: skip
            yield batch, new_mark, len(buf), False
        if offset == start and (mark is None or mark.size != st.st_size or mark.mtime != st.st_mtime):
            # Nothing complete to consume: remember size and mtime so an idle file is not re-read.
            idle = FileMark(path, source.kind, st.st_dev, st.st_ino, _head_hash(fh, min(HEAD_BYTES, offset)),
                            st.st_size, st.st_mtime, offset, lines)  # fmt: skip
            yield Batch(), idle, 0, False


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _start(mark: FileMark | None, st: os.stat_result) -> int:
    if mark is None or st.st_size < mark.offset or st.st_ino != mark.inode:
        return 0
    return mark.offset


def _head_hash(fh: BinaryIO, length: int) -> str:
    """Hash of the first `length` bytes: the part already consumed, which appends never change."""
    fh.seek(0)
    return hashlib.sha1(fh.read(length)).hexdigest()


def _complete_lines(
    fh: BufferedIOBase, offset: int, size: int, chunk: int | None = None
) -> Iterator[tuple[bytearray, int, int, list[tuple[int, int]]]]:
    """Yield (bytes of complete lines, their start offset, offset after them, oversized lines).

    Reads `chunk` (default CHUNK_BYTES) at a time; a trailing partial line is
    carried into the next read, or left unconsumed at the end of the file.
    Each read goes into its own bytearray, cut at the last newline in place,
    so a chunk is never copied.
    """
    chunk = chunk or CHUNK_BYTES
    pos = offset
    oversized: list[tuple[int, int]] = []
    while pos < size:
        buf = _read_at(fh, pos, min(chunk, size - pos))
        if not buf:
            return
        cut = buf.rfind(b"\n")
        if cut == -1:
            # One line longer than a chunk: look for its end, quarantine it if too long.
            end = _find_newline(fh, pos + len(buf), size)
            if end is None:
                return  # partial line at EOF: wait for its newline
            length = end - pos
            if length > MAX_LINE_BYTES:
                oversized.append((pos, length))
                pos = end + 1
                continue
            del buf
            buf = _read_at(fh, pos, length + 1)
            cut = length
        del buf[cut:]
        yield buf, pos, pos + cut + 1, oversized
        oversized = []
        pos += cut + 1
    if oversized:
        yield bytearray(), pos, pos, oversized


def _read_at(fh: BufferedIOBase, pos: int, want: int) -> bytearray:
    fh.seek(pos)
    buf = bytearray(want)
    got = fh.readinto(buf)
    if got < want:
        del buf[got:]
    return buf


def _find_newline(fh: BufferedIOBase, start: int, size: int) -> int | None:
    pos = start
    fh.seek(pos)
    while pos < size:
        block = fh.read(min(SCAN_BYTES, size - pos))
        if not block:
            return None
        i = block.find(b"\n")
        if i != -1:
            return pos + i
        pos += len(block)
    return None
