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
from typing import BinaryIO

from tiermon.ingest.parse import Batch, FileState, parse_chunk
from tiermon.ingest.sources import SourceFile
from tiermon.ingest.store import FileMark, Store

HEAD_BYTES = 4096
"""How much of a file's start identifies it across renames and rewrites."""
CHUNK_BYTES = 32 * 1024 * 1024
"""Bytes read and committed at a time: bounds memory on multi-gigabyte files."""
MAX_LINE_BYTES = 256 * 1024 * 1024
"""Longer lines are quarantined unread (real progress lines reach ~95 MB)."""

Parser = Callable[[bytes, int, str, FileState], Batch]


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
    changed_sessions: set[str] = field(default_factory=set)

    def add(self, batch: Batch) -> None:
        self.lines += batch.lines
        self.responses += batch.response_count
        self.events += len(batch.events.get("k", ()))
        self.quarantined += len(batch.quarantine)
        self.changed_sessions.update(s for s in batch.responses.get("session_id", ()) if s)
        self.changed_sessions.update(s for s in batch.events.get("session_id", ()) if s)


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
        marks = store.file_marks()
        todo: list[tuple[SourceFile, os.stat_result]] = []
        for source in files:
            summary.files_seen += 1
            try:
                st = source.path.stat()
            except OSError:
                continue  # vanished between scan and stat: its rows stay
            mark = marks.get(str(source.path))
            if mark is not None and mark.size == st.st_size and mark.mtime == st.st_mtime and mark.inode == st.st_ino:
                continue
            todo.append((source, st))
        total = sum(max(st.st_size - _start(marks.get(str(s.path)), st), 0) for s, st in todo)
        done = 0
        # Newest first, so a dashboard opened during a backfill fills with current sessions.
        todo.sort(key=lambda item: item[1].st_mtime, reverse=True)
        for source, st in todo:
            mark = marks.get(str(source.path))
            if source.kind == "agent-meta":
                self._agent_meta(store, source, st)
                continue
            done += self._tail(store, source, st, mark, summary, lambda n: progress(done + n, total) if progress else None)
            if progress:
                progress(done, total)
        summary.seconds = time.perf_counter() - started
        return summary

    def _tail(
        self,
        store: Store,
        source: SourceFile,
        st: os.stat_result,
        mark: FileMark | None,
        summary: IngestSummary,
        progress: Callable[[int], None],
    ) -> int:
        path = str(source.path)
        parser = self.parsers.get(source.kind)
        if parser is None:
            return 0
        try:
            fh = open(source.path, "rb")
        except OSError:
            return 0
        with fh:
            offset = mark.offset if mark else 0
            lines = mark.lines if mark else 0
            head = _head_hash(fh, min(HEAD_BYTES, offset)) if mark else ""
            if mark is not None and (st.st_size < mark.offset or st.st_ino != mark.inode or head != mark.head_hash):
                offset, lines = 0, 0
                summary.files_reset += 1
                self._states.pop(path, None)
            state = self._states.setdefault(path, FileState())
            start = offset
            summary.files_read += 1
            for buf, buf_offset, consumed_to, oversized in _complete_lines(fh, offset, st.st_size):
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
                store.write(new_mark, batch)
                summary.add(batch)
                summary.bytes_read += len(buf)
                progress(offset - start)
            if offset == start and (mark is None or mark.size != st.st_size or mark.mtime != st.st_mtime):
                # Nothing complete to consume: remember size and mtime so an idle file is not re-read.
                store.write(
                    FileMark(path, source.kind, st.st_dev, st.st_ino, _head_hash(fh, min(HEAD_BYTES, offset)),
                             st.st_size, st.st_mtime, offset, lines),
                    Batch(),
                )  # fmt: skip
            return st.st_size - start

    def _agent_meta(self, store: Store, source: SourceFile, st: os.stat_result) -> None:
        """`agent-<id>.meta.json` sidecars: the agent's type and description (2.1.x)."""
        try:
            data = json.loads(source.path.read_text("utf-8"))
        except (OSError, ValueError):
            data = None
        agent_id = source.path.name.removeprefix("agent-").removesuffix(".meta.json")
        session = source.path.parent.parent.name if source.path.parent.name == "subagents" else None
        store.con.begin()
        if isinstance(data, dict):
            store.upsert_agent_meta(
                [(agent_id, session, _str(data.get("agentType")), _str(data.get("description")), _str(data.get("toolUseId")))]
            )
        store._write_mark(
            FileMark(str(source.path), "agent-meta", st.st_dev, st.st_ino, "", st.st_size, st.st_mtime, st.st_size, 0),
            reset=False,
        )
        store.con.commit()


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


def _complete_lines(fh: BinaryIO, offset: int, size: int) -> Iterator[tuple[bytes, int, int, list[tuple[int, int]]]]:
    """Yield (bytes of complete lines, their start offset, offset after them, oversized lines).

    Reads CHUNK_BYTES at a time; a trailing partial line is carried into the
    next read, or left unconsumed at the end of the file.
    """
    pos = offset
    oversized: list[tuple[int, int]] = []
    while pos < size:
        fh.seek(pos)
        want = min(CHUNK_BYTES, size - pos)
        buf = fh.read(want)
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
            fh.seek(pos)
            buf = fh.read(length + 1)
            cut = length
        yield buf[:cut], pos, pos + cut + 1, oversized
        oversized = []
        pos += cut + 1
    if oversized:
        yield b"", pos, pos, oversized


def _find_newline(fh: BinaryIO, start: int, size: int) -> int | None:
    pos = start
    fh.seek(pos)
    while pos < size:
        block = fh.read(min(CHUNK_BYTES, size - pos))
        if not block:
            return None
        i = block.find(b"\n")
        if i != -1:
            return pos + i
        pos += len(block)
    return None
