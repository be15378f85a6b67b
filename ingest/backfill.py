"""Parallel backfill: worker processes parse transcripts, this process writes them.

Parsing is pure CPU and the database takes one writer, so a large pass (a
first run over months of transcripts) splits like this: worker processes read
and parse whole files (a file's lines depend on its earlier lines, so one
worker reads a file from start to end) and send back Arrow tables every few
megabytes; this process gathers them and commits many files' rows and marks
per transaction. The result queue is bounded, so workers wait rather than
pile up rows when the writer falls behind, and each file is open only while
one worker reads it.

Rows come out the same as from the serial path: which copy of a response (or
event) the store keeps does not depend on the order files are read in.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import queue
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiermon.ingest.models import Rule, current_rules, use_rules
from tiermon.ingest.store import Pending, Store
from tiermon.ingest.summary import IngestSummary

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext, SpawnContext

    from tiermon.ingest.summary import ProgressFn
    from tiermon.ingest.tailer import Work

PARALLEL_MIN_BYTES = 64 * 1024 * 1024
"""Below this many new bytes a pass stays in one process: starting workers would cost more."""
TASK_BYTES = 16 * 1024 * 1024
"""Small files are handed to a worker in groups of about this many bytes."""
MESSAGE_BYTES = 8 * 1024 * 1024
"""A worker sends what it parsed after about this many bytes (and at the end of each task)."""
READ_BYTES = 4 * 1024 * 1024
"""Read size in the workers: smaller than the serial path's, to keep each worker small."""
CHECKPOINT_THRESHOLD = "32MB"
"""WAL size at which DuckDB checkpoints during a backfill (default 16 MB). Each checkpoint compresses
the tables' open row groups again, so fewer of them save time; but uncompressed rows wait in the
writer's memory meanwhile. On 1.1 GB, 32 MB took the same time as 64 MB (4.13-4.16 s, two runs
each) with a peak of 355-371 MB for the process tree instead of 392-405 MB."""
COMMIT_ROWS = 25_000
"""Rows gathered here before a commit: commits overlap the workers and bound this process's memory."""
QUEUE_MESSAGES_PER_WORKER = 8
"""Parsed messages waiting for the writer, per worker: the bound on memory in flight. A message is
the rows of ~8 MB of transcript, about 1 MB of Arrow, so room for 8 costs little and keeps the
workers parsing while the writer commits (with 2 they stalled on every commit)."""
POLL_SECONDS = 0.5


class BackfillError(RuntimeError):
    """A worker failed; the message carries its traceback."""


class WorkersUnavailable(RuntimeError):
    """Worker processes could not be started: the caller reads in this process instead."""


def workers() -> int:
    """Worker processes to use: the CPUs this process may run on (TIERMON_WORKERS overrides)."""
    configured = os.environ.get("TIERMON_WORKERS")
    if configured:
        return max(int(configured), 0)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def worth_it(total_bytes: int, files: int) -> bool:
    """True when a pass has enough new bytes, and the machine enough CPUs, to parse in parallel."""
    return total_bytes >= PARALLEL_MIN_BYTES and files > 1 and workers() > 1


@dataclass
class _Result:
    """What a worker sends: rows of some files and their marks (which carry each file's parse state)."""

    pending: Pending = field(default_factory=Pending)
    summary: IngestSummary = field(default_factory=IngestSummary)


def run(
    store: Store, todo: list[Work], summary: IngestSummary, progress: ProgressFn | None,
    holds: tuple[float, float] | None = None, *, fork: bool = True, stop: Callable[[], bool] = lambda: False,
) -> None:
    """Parse `todo` in worker processes and commit everything into `store`.

    With `holds` (seconds held, seconds paused) the writer lets other processes into the
    database between commits, so a report answers during a long first load. `fork` says
    whether this process may fork (see `_context`). When `stop()` turns true the workers
    are ended and what was gathered is committed: the files left are read by the next pass.
    """
    total = sum(w.pending_bytes for w in todo)
    tasks = _tasks(todo)
    count = min(workers(), len(tasks))
    task_queue, results, procs = _start(_context(fork), count)
    summary.parse_workers = count
    try:
        for task in tasks:
            task_queue.put(task)
        for _ in range(count):
            task_queue.put(None)
        # A first ingest builds the key indexes once, at the end; the workers have the other cores, so
        # DuckDB gets one thread (less memory), and checkpoints less often.
        with store.bulk_load(), store.tuned(threads="1", checkpoint_threshold=CHECKPOINT_THRESHOLD):
            if not _collect(store, results, procs, summary, total, progress, holds, stop):
                _terminate(procs)
    except BaseException:
        _terminate(procs)
        raise
    finally:
        for proc in procs:
            proc.join(timeout=5)
        for q in (task_queue, results):
            q.cancel_join_thread()
            q.close()


def _start(ctx: ForkContext | SpawnContext, count: int) -> tuple[Any, Any, list[Any]]:
    """The task and result queues and `count` started workers; WorkersUnavailable if they cannot start."""
    procs: list[Any] = []
    try:
        with _stderr_with_descriptor():
            task_queue: Any = ctx.Queue()
            results: Any = ctx.Queue(maxsize=QUEUE_MESSAGES_PER_WORKER * count)
            rules = current_rules()  # a spawned worker starts without the user's models.toml rules
            procs = [
                ctx.Process(target=_worker, args=(task_queue, results, rules), daemon=True, name=f"tiermon-parse-{i}")
                for i in range(count)
            ]
            gc.freeze()  # forked workers then leave the parent's objects alone (no copy-on-write by the collector)
            try:
                for proc in procs:
                    proc.start()  # before the first put: no queue feeder thread exists yet to fork
            finally:
                gc.unfreeze()
    except (OSError, ValueError, RuntimeError, ImportError) as exc:  # ImportError: no sem_open on this build
        started = [proc for proc in procs if proc.pid is not None]
        _terminate(started)
        for proc in started:
            proc.join(timeout=5)
        raise WorkersUnavailable(f"cannot start parse workers: {exc}") from exc
    return task_queue, results, procs


@contextmanager
def _stderr_with_descriptor() -> Iterator[None]:
    """A spawning multiprocessing starts its resource tracker with sys.stderr's descriptor; in a Textual
    app sys.stderr is a capture object whose fileno() is -1, which fails every spawn ("bad value(s) in
    fds_to_keep"). The tracker then gets /dev/null instead."""
    try:
        usable = sys.stderr is not None and sys.stderr.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        usable = False
    if usable:
        yield
        return
    with open(os.devnull, "w") as sink, redirect_stderr(sink):
        yield


def _context(fork: bool) -> ForkContext | SpawnContext:
    """fork where it is safe and cheap (Linux: no re-import); spawn elsewhere.

    A process running threads it does not control (the dashboard: asyncio, the watcher, pane
    queries) must not fork: a lock another thread held at the fork stays held in the child
    for good. Spawned workers start a fresh interpreter and import the parser (~0.2 s for
    two workers on a 1 GiB load), so such a caller passes `fork=False`.
    """
    if fork and sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _terminate(procs: list[Any]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()


def _tasks(todo: list[Work]) -> list[list[Work]]:
    """Largest files first (so no worker is left with a big file at the end); small ones grouped."""
    tasks: list[list[Work]] = []
    group: list[Work] = []
    size = 0
    for work in sorted(todo, key=lambda w: w.pending_bytes, reverse=True):
        if work.pending_bytes >= TASK_BYTES:
            tasks.append([work])
            continue
        group.append(work)
        size += work.pending_bytes
        if size >= TASK_BYTES:
            tasks.append(group)
            group, size = [], 0
    if group:
        tasks.append(group)
    return tasks


def _collect(
    store: Store,
    results: Any,
    procs: list[Any],
    summary: IngestSummary,
    total: int,
    progress: ProgressFn | None,
    holds: tuple[float, float] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> bool:
    """The writer: gather worker results, commit every COMMIT_ROWS rows and at the end.

    Returns False when `stop()` ended the gathering before the workers were done."""
    pending = Pending()
    running, done = len(procs), 0
    while running:
        if stop():
            break
        try:
            kind, payload = results.get(timeout=POLL_SECONDS)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise BackfillError(f"parse worker {dead[0].name} died with exit code {dead[0].exitcode}") from None
            continue
        if kind == "exit":
            running -= 1
            continue
        if kind == "error":
            raise BackfillError(f"a parse worker failed:\n{payload}")
        result: _Result = payload
        pending.merge(result.pending)
        summary.merge(result.summary)
        done += result.summary.bytes_read
        if progress:
            progress(min(done, total), total)
        if pending.rows >= COMMIT_ROWS:
            store.commit(pending)
            pending = Pending()
        if holds:
            store.let_others_in(*holds)  # gathered rows wait in memory; the workers wait on the bounded queue
    store.commit(pending)  # each batch came with its file's mark: a stopped load commits whole reads only
    if running:
        return False
    if progress:
        progress(total, total)
    return True


def _worker(tasks: Any, results: Any, rules: tuple[Rule, ...] = ()) -> None:
    """Worker loop: parse tasks until the None sentinel, then say so."""
    gc.disable()  # a short-lived process that builds no reference cycles: collections would only cost time
    use_rules(rules)  # the tiers and vendors rows are stored with
    try:
        while (task := tasks.get()) is not None:
            _parse_task(task, results.put)
        results.put(("exit", None))
    except BaseException:  # noqa: BLE001 - whatever stops a worker is sent to the parent, which raises it
        results.put(("error", traceback.format_exc()))


def _parse_task(task: list[Work], send: Callable[[Any], None]) -> None:
    from tiermon.ingest.tailer import count_read, read_file

    out = _Result()
    for work in task:
        for batch, mark, nbytes, reset in read_file(work, READ_BYTES):
            if reset:
                out.summary.files_reset += 1
                continue
            out.pending.add(mark, batch)
            out.summary.add(batch)
            out.summary.bytes_read += nbytes
            if out.summary.bytes_read >= MESSAGE_BYTES:
                send(("rows", _sealed(out)))
                out = _Result()
        count_read(work, out.pending, out.summary)
    send(("rows", _sealed(out)))


def _sealed(result: _Result) -> _Result:
    result.pending.seal()
    return result
