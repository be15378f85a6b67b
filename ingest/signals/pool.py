"""Runs a function over a few in-memory parts in forked worker processes.

Signals are plain Python over rows already fetched from the store. On a first
ingest of thousands of sessions that is over a second of one core, while the
other core idles. Forking hands each worker its part without pickling it
(the pages are shared copy-on-write); only the results travel back, and this
process computes one part itself instead of waiting.

Fork is only safe for a caller that knows which threads it runs: the `tiermon
ingest` command and reports do; the dashboard (asyncio, a watcher thread)
does not, and keeps to one process.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from tiermon.ingest.backfill import workers as cpu_workers

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN_SESSIONS = 200
"""Below this many sessions forking costs more than it saves."""

_JOB: tuple[Callable[[Any], Any], Sequence[Any]] | None = None
"""The function and parts a forked child finds in its copy of this module."""


class PoolError(RuntimeError):
    """A worker failed; the message carries its traceback."""


def workers() -> int:
    """Processes to compute with: the CPUs this process may use, 1 where fork is not available."""
    if not sys.platform.startswith("linux") or "fork" not in mp.get_all_start_methods():
        return 1
    return max(cpu_workers(), 1)


def fork_map(func: Callable[[T], R], parts: Sequence[T]) -> list[R]:
    """`[func(p) for p in parts]`, the first part here and each other one in a forked child."""
    if len(parts) <= 1 or workers() == 1:
        return [func(p) for p in parts]
    global _JOB
    ctx = mp.get_context("fork")
    children: list[tuple[Any, Any]] = []
    _JOB = (func, parts)
    try:
        for index in range(1, len(parts)):
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(index, send), daemon=True, name=f"tiermon-signals-{index}")
            proc.start()
            send.close()
            children.append((receive, proc))
    finally:
        _JOB = None
    try:
        results = [func(parts[0])]
        for receive, proc in children:
            results.append(_result(receive, proc))
        return results
    finally:
        for receive, proc in children:
            receive.close()
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _result(receive: Any, proc: Any) -> Any:
    try:
        status, value = receive.recv()
    except EOFError:
        proc.join(timeout=5)
        raise PoolError(f"signals worker {proc.name} died with exit code {proc.exitcode}") from None
    if status == "error":
        raise PoolError(f"a signals worker failed:\n{value}")
    return value


def _child(index: int, send: Any) -> None:
    gc.disable()  # short-lived and cycle-free: collections would only cost time
    assert _JOB is not None
    func, parts = _JOB
    try:
        send.send(("ok", func(parts[index])))
    except BaseException:  # noqa: BLE001 - whatever stops a child is sent to the parent, which raises it
        send.send(("error", traceback.format_exc()))
    finally:
        send.close()
