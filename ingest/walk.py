"""Paths the user names, and how the files below a folder are walked (SPEC §8: no symlinks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


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


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name
