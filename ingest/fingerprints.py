"""Fingerprints of the state a stored answer rests on: file stats, the files below the roots, tiermon's code.

Only the standard library: `tiermon.entry` computes these before it has
decided whether to import anything else.
"""

from __future__ import annotations

import json
import os
import stat
import sys

from tiermon.ingest.roots import walk

try:
    from _blake2 import blake2b  # hashlib's own, without the 2 ms of loading OpenSSL first
except ImportError:  # pragma: no cover - another interpreter
    from hashlib import blake2b

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["blake2b", "code_digest", "file_stat", "loaded_code", "racy_wait", "tree_digest"]

RACY_NS = 25_000_000
"""A stat taken this soon after the file's last change does not pin its content: a further change
within the same timestamp tick (10 ms on Linux at HZ=100, ~16 ms on NTFS) could leave it unchanged."""
COARSE_RACY_NS = 2_000_000_000
"""The same for file systems with whole-second (or coarser) timestamps."""

Stat = list[int] | None
"""(size, mtime_ns, ctime_ns, inode) of a file, None when it does not exist."""


def file_stat(path: str) -> Stat:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def tree_digest(roots: list[str], api_logs: list[str]) -> str:
    """Path, size, mtime and inode of every file an ingest pass would consider, and of the roots' set."""
    h = blake2b(digest_size=20)
    for root in roots:
        h.update(b"root %s\n" % os.fsencode(root))
        for entry in walk(root):
            _add_file(h, entry.path, entry.stat(follow_symlinks=False))
    for log in api_logs:
        h.update(b"log %s\n" % os.fsencode(log))
        st = os.stat(log)  # a missing log is an error for the CLI to report
        if stat.S_ISDIR(st.st_mode):
            for entry in walk(log):
                _add_file(h, entry.path, entry.stat(follow_symlinks=False))
        elif stat.S_ISREG(st.st_mode):
            _add_file(h, log, st)
        else:
            raise ValueError(f"not a file or folder: {log}")
    return h.hexdigest()


def _add_file(h: Any, path: str, st: os.stat_result) -> None:
    h.update(b"%s\0%d\0%d\0%d\n" % (os.fsencode(path), st.st_size, st.st_mtime_ns, st.st_ino))


def code_digest(paths: list[str]) -> str:
    """The stat of the code that computed an answer: an edited or upgraded install must not serve it."""
    return blake2b(json.dumps([file_stat(p) for p in paths]).encode(), digest_size=16).hexdigest()


def loaded_code() -> list[str]:
    """Files of every tiermon module loaded, and of every third-party package's top module (its version)."""
    files = set()
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        loaded = top == "tiermon" or (name == top and top not in sys.stdlib_module_names)
        if loaded and (path := getattr(module, "__file__", None)):
            files.add(path)
    return sorted(files)


def racy_wait(st: Stat, taken_ns: int) -> int:
    """Nanoseconds until a stat taken at `taken_ns` would pin the file's content; 0 if it already does.

    Once the stat is that much younger than the file's last change, any later
    change gets a newer timestamp, so an equal stat means equal content.
    """
    if st is None:
        return 0
    newest = max(st[1], st[2])
    margin = COARSE_RACY_NS if newest % 1_000_000 == 0 else RACY_NS
    return max(newest + margin - taken_ns, 0)
