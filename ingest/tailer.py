"""Reads what is new in each source file and commits it with the file's new offset.

Per file the store remembers identity (device, inode, hashes of the first and
the last bytes already consumed), the offset just past the last complete line
and the source's parse state. A read starts there; a line without its newline
waits for the next read; a file that shrank or whose consumed bytes changed is
read again from 0 (row keys make that harmless); a line over MAX_LINE_BYTES is
quarantined and skipped. Which rows a line makes is the source's business
(`ingest/sources/`): this module only moves bytes and marks.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from io import BufferedIOBase
from typing import Any, BinaryIO

from tiermon.ingest import backfill
from tiermon.ingest.gc_pause import paused_gc
from tiermon.ingest.rows import Batch, Format, SourceFile
from tiermon.ingest.sources import format_of
from tiermon.ingest.store import FileMark, Pending, Store
from tiermon.ingest.summary import IngestSummary, ProgressFn

HEAD_BYTES = 4096
"""How much of a file's start identifies it across renames and rewrites; as much of the consumed
part's end tells a rewrite in place to the same size."""
CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes read and parsed at a time: bounds memory on multi-gigabyte files."""
SCAN_BYTES = 1024 * 1024
"""Read size while looking for the end of a line longer than a chunk."""
MAX_LINE_BYTES = 256 * 1024 * 1024
"""Longer lines are quarantined unread (real progress lines reach ~95 MB)."""
MAX_WHOLE_FILE_BYTES = 512 * 1024 * 1024
"""A whole-file format's file above this is quarantined unread."""
FLUSH_ROWS = 50_000
"""Rows gathered before a commit: many small files share one transaction."""
FLUSH_BYTES = 64 * 1024 * 1024
"""Bytes read before a commit, so a big file commits (and bounds memory) as it goes."""


@dataclass
class Work:
    """A file with bytes the store has not seen: its stat and the mark left by the last read."""

    source: SourceFile
    st: os.stat_result
    mark: FileMark | None
    problem: str | None = None
    """Why the file could not be opened, once a read tried."""

    @property
    def start(self) -> int:
        return _start(self.mark, self.st)

    @property
    def pending_bytes(self) -> int:
        return max(self.st.st_size - self.start, 0)


def plan(store: Store, files: Iterable[SourceFile], summary: IngestSummary) -> list[Work]:
    """Files whose stat differs from their mark, newest first: a dashboard opened during a
    backfill fills with current sessions first."""
    files = list(files)
    known = store.file_stats([source.key for source in files])
    changed: list[tuple[SourceFile, os.stat_result]] = []
    for source in files:
        summary.files_seen += 1
        try:
            st = os.stat(source.key)
        except OSError:
            continue  # vanished between scan and stat: its rows stay
        if known.get(source.key) != (st.st_size, st.st_mtime, st.st_ino):
            changed.append((source, st))
    marks = store.file_marks(source.key for source, _ in changed) if changed else {}
    todo = [Work(source, st, marks.get(source.key)) for source, st in changed]
    todo.sort(key=lambda w: w.st.st_mtime, reverse=True)
    return todo


def ingest(
    store: Store, todo: list[Work], summary: IngestSummary, progress: ProgressFn | None = None, *, parallel: bool,
    holds: tuple[float, float] | None = None, fork: bool = True, stop: Callable[[], bool] = lambda: False,
) -> None:
    """Read every planned file's new bytes into the store; in worker processes when `parallel` and worth it
    (letting other processes in between commits, as `holds` says; forked or spawned, as `fork` says;
    ended early when `stop()` turns true). Raises backfill.WorkersUnavailable, having read nothing,
    when the workers cannot start."""
    started = time.perf_counter()
    total = sum(w.pending_bytes for w in todo)
    with paused_gc():
        if parallel and backfill.worth_it(total, len(todo)):
            backfill.run(store, todo, summary, progress, holds, fork=fork, stop=stop)
        else:
            _serial(store, todo, summary, total, progress)
    summary.seconds += time.perf_counter() - started


def _serial(store: Store, todo: list[Work], summary: IngestSummary, total: int, progress: ProgressFn | None) -> None:
    """Read files one by one in this process, committing many reads per transaction."""
    pending = Pending()
    pending_bytes = done = 0
    for work in todo:
        for batch, mark, nbytes, reset in read_file(work):
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
        count_read(work, pending, summary)
        done += work.pending_bytes
        if progress:
            progress(done, total)
    store.commit(pending)


def count_read(work: Work, pending: Pending, summary: IngestSummary) -> None:
    """Count the file as read, or as unreadable (quarantined with the reason, so `doctor` names it)."""
    problem = work.problem
    if problem is None:
        summary.files_read += 1
        return
    summary.files_unreadable += 1
    summary.unreadable.append(work.source.key)
    pending.quarantine.append((work.source.key, -1, 0, f"cannot open: {problem}", ""))


def read_file(work: Work, chunk: int | None = None) -> Iterator[tuple[Batch, FileMark, int, bool]]:
    """Parse a file's new complete lines: yields (batch, the file's mark after it, bytes read, reset).

    Yields nothing if the file cannot be opened (then `work.problem` says why),
    else at least one item. A file that shrank, changed inode, or whose consumed
    head or tail changed is read again from 0 with a fresh parse state: that
    yields one item with `reset=True` first. The parse state travels in the mark.
    """
    fmt = format_of(work.source)
    try:
        fh = open(work.source.path, "rb")  # noqa: SIM115 - only the open may fail quietly; `with fh` below closes it
    except OSError as exc:
        work.problem = exc.strerror or type(exc).__name__
        return
    with fh:
        if fmt.whole_file:
            yield from _read_whole(work, fmt, fh)
        else:
            yield from _read_lines(work, fmt, fh, chunk or CHUNK_BYTES)


def _read_lines(
    work: Work, fmt: Format, fh: BufferedIOBase, chunk: int
) -> Iterator[tuple[Batch, FileMark, int, bool]]:
    source, st, mark = work.source, work.st, work.mark
    path = source.key
    offset = mark.offset if mark else 0
    lines = mark.lines if mark else 0
    state = fmt.load_state(mark.state if mark else None)
    if mark is not None and _replaced(fh, mark, st):
        offset, lines, state = 0, 0, fmt.new_state()
        yield Batch(), mark, 0, True
    start = offset
    reads = _complete_lines(fh, offset, st.st_size, chunk)
    ahead = next(reads, None)
    while ahead is not None:
        buf, buf_offset, consumed_to, oversized = ahead
        batch = _parse(fmt, buf, buf_offset, path, state)
        for bad_offset, length in oversized:
            batch.quarantine.append((bad_offset, length, f"line longer than {MAX_LINE_BYTES} bytes", ""))
        lines += batch.lines + len(oversized)
        offset = consumed_to
        nbytes = len(buf)
        del buf
        ahead = next(reads, None)
        # A mark with more complete lines after it records the size read so far, not the file's: if the pass
        # ends there (stopped, killed), the next one sees a stat that differs and reads on from the mark.
        seen = st.st_size if ahead is None else offset
        yield batch, _mark(source, st, fh, offset, lines, fmt, state, seen), nbytes, False
    if offset == start and (mark is None or mark.size != st.st_size or mark.mtime != st.st_mtime):
        # Nothing complete to consume: remember size and mtime so an idle file is not re-read.
        yield Batch(), _mark(source, st, fh, offset, lines, fmt, state), 0, False


def _read_whole(work: Work, fmt: Format, fh: BufferedIOBase) -> Iterator[tuple[Batch, FileMark, int, bool]]:
    """A document format: parse the whole file; its rows are keyed so that a re-read adds nothing."""
    source, st = work.source, work.st
    state = fmt.new_state()
    if st.st_size > MAX_WHOLE_FILE_BYTES:
        batch = Batch()
        batch.quarantine.append((0, st.st_size, f"file larger than {MAX_WHOLE_FILE_BYTES} bytes", ""))
        yield batch, _mark(source, st, fh, st.st_size, 0, fmt, state), 0, False
        return
    buf = _read_at(fh, 0, st.st_size)
    batch = _parse(fmt, buf, 0, source.key, state)
    yield batch, _mark(source, st, fh, len(buf), batch.lines, fmt, state), len(buf), False


def _parse(fmt: Format, buf: bytes | bytearray, offset: int, path: str, state: Any) -> Batch:
    """The format's rows; if its parser fails (a bug: parsers quarantine what they cannot read), the
    bytes are quarantined with the reason, so the pass goes on and `doctor` shows it (SPEC §8)."""
    try:
        return fmt.parse(buf, offset, path, state)
    except Exception as exc:  # noqa: BLE001 - no file may stop a pass
        batch = Batch(lines=buf.count(b"\n") or 1)
        batch.quarantine_line(offset, buf, f"{fmt.name} parser failed ({type(exc).__name__}): tiermon bug")
        return batch


def _mark(source: SourceFile, st: os.stat_result, fh: BinaryIO | BufferedIOBase, offset: int, lines: int,
          fmt: Format, state: Any, size: int | None = None) -> FileMark:  # fmt: skip
    """Where the read stands; `size` is how much of the file it has seen (all of it unless said)."""
    return FileMark(
        path=source.key, source_kind=source.kind, dev=st.st_dev, inode=st.st_ino,
        head_hash=_head_hash(fh, offset), size=st.st_size if size is None else size, mtime=st.st_mtime,
        offset=offset, lines=lines,
        tail_hash=_tail_hash(fh, offset), state=fmt.dump_state(state),
    )  # fmt: skip


def _replaced(fh: BufferedIOBase, mark: FileMark, st: os.stat_result) -> bool:
    """True when the bytes already consumed are no longer the file's: shrunk, replaced, or rewritten in
    place (even to the same size: the end of the consumed part tells what the head cannot)."""
    if st.st_size < mark.offset or st.st_ino != mark.inode or _head_hash(fh, mark.offset) != mark.head_hash:
        return True
    return mark.tail_hash is not None and _tail_hash(fh, mark.offset) != mark.tail_hash


def _head_hash(fh: BinaryIO | BufferedIOBase, offset: int) -> str:
    """Hash of the consumed part's first HEAD_BYTES, which appends never change."""
    fh.seek(0)
    return hashlib.sha1(fh.read(min(HEAD_BYTES, offset))).hexdigest()


def _tail_hash(fh: BinaryIO | BufferedIOBase, offset: int) -> str:
    """Hash of the HEAD_BYTES just before `offset`."""
    start = max(offset - HEAD_BYTES, 0)
    fh.seek(start)
    return hashlib.sha1(fh.read(offset - start)).hexdigest()


def _start(mark: FileMark | None, st: os.stat_result) -> int:
    if mark is None or st.st_size < mark.offset or st.st_ino != mark.inode:
        return 0
    return mark.offset


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
