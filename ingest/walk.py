"""Paths the user names, and how the files below a folder are walked (SPEC §8: no symlinks)."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

Folders = dict[str, int | None]
"""Folder -> what `folder_state` found when it was walked: a process that walks the same roots again
reuses the listing while every folder reads the same (`unchanged`)."""

RACY_NS = 2_000_000_000
"""A folder changed this recently may change again within its mtime's granularity (a second on some
file systems) without its mtime moving: its listing is never reused (as git treats racy index entries)."""
ABSENT, NOT_A_FOLDER = -1, -2

_recorders: list[Folders] = []


def absolute(path: Path) -> Path:
    """`path` made absolute and normalised (`..` removed) without following symlinks.

    The store knows a file by its path, so the same folder named relatively and
    absolutely must not read as two sets of files.
    """
    return Path(os.path.abspath(path.expanduser()))


def walk(root: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
    """Regular files below root in a stable order; symlinked files and folders are skipped."""
    stack = [os.fspath(root)]
    while stack:
        folder = stack.pop()
        if _recorders:
            _recorders[-1][folder] = folder_state(folder)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=_name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry
        stack.extend(reversed(subdirs))


@contextmanager
def recording_folders() -> Iterator[Folders]:
    """Every folder `walk` lists inside the block, with its state: what `unchanged` checks later."""
    folders: Folders = {}
    _recorders.append(folders)
    try:
        yield folders
    finally:
        _recorders.pop()


def folder_state(path: str) -> int | None:
    """A folder's mtime in ns (it moves when an entry is added, removed or renamed), ABSENT,
    NOT_A_FOLDER, or None when it changed too recently to be trusted (RACY_NS)."""
    try:
        st = os.stat(path)  # followed: a root may be a symlink, which `walk` lists through
    except OSError:
        return ABSENT
    if not stat.S_ISDIR(st.st_mode):
        return NOT_A_FOLDER
    if time.time_ns() - st.st_mtime_ns < RACY_NS:
        return None
    return st.st_mtime_ns


def unchanged(folders: Folders) -> bool:
    """Whether every recorded folder still reads as it did: no entry was added, removed or renamed."""
    return all(state is not None and folder_state(path) == state for path, state in folders.items())


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name
