"""Safe file writing: files land in one output folder and nowhere else.

Every file is staged 0600 under a private temporary name (never through a
symlink), hashed, and renamed into place only when the whole plan is written.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tiermon.ingest.export.model import ExportError

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


Writer = Callable[[BinaryIO], object]
"""Writes one file's bytes into an open binary file."""


@dataclass(frozen=True)
class Planned:
    """A file to write: its name, what it holds, and how to write it."""

    name: str
    format: str
    table: str
    rows: int
    write: Writer


@dataclass(frozen=True)
class FileRecord:
    """One written file as the manifest lists it."""

    name: str
    format: str
    table: str
    rows: int
    bytes: int
    sha256: str


class OutputDir:
    """A folder that files are written into and never out of.

    Names must be plain file names; an existing symlink (or anything but a
    regular file) at a target is refused, never followed; files are created
    0600 under a temporary name and renamed into place only when all are written.
    """

    def __init__(self, path: Path) -> None:
        path = path.expanduser()
        if path.is_symlink():  # the folder itself must not lead elsewhere, as no file in it may
            raise ExportError(f"refusing to write through the symlink {path}: give the folder it points to")
        try:
            if not path.exists():
                path.mkdir(parents=True, mode=0o700)
            self.path = path.resolve(strict=True)
        except OSError as exc:
            raise ExportError(f"cannot use output folder {path}: {exc.strerror or exc}") from exc
        if not self.path.is_dir():
            raise ExportError(f"output folder {path} is not a folder")

    def target(self, name: str) -> Path:
        """The path of `name` inside the folder; ExportError if it would land anywhere else."""
        bad = not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
        candidate = self.path / name
        if bad or Path(name).is_absolute() or candidate.parent != self.path:
            raise ExportError(f"file name {name!r} would leave the output folder {self.path}")
        try:
            mode = candidate.lstat().st_mode
        except FileNotFoundError:
            return candidate
        if stat.S_ISLNK(mode):
            raise ExportError(f"refusing to write through the symlink {candidate}")
        if not stat.S_ISREG(mode):
            raise ExportError(f"{candidate} exists and is not a regular file")
        return candidate

    def write_all(self, plan: list[Planned]) -> list[FileRecord]:
        """Stage every file, then move them all into place; on failure nothing is replaced."""
        targets = [self.target(p.name) for p in plan]
        if len(set(targets)) != len(targets):
            raise ExportError("two export files would have the same name")
        staged: list[tuple[Path, Path]] = []
        records: list[FileRecord] = []
        try:
            for p, target in zip(plan, targets, strict=True):
                temp, size, digest = self._stage(p.name, p.write)
                staged.append((temp, target))
                records.append(FileRecord(p.name, p.format, p.table, p.rows, size, digest))
            for temp, target in staged:
                self.target(target.name)
                os.replace(temp, target)
        finally:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
        return records

    def _stage(self, name: str, write: Writer) -> tuple[Path, int, str]:
        """Write one file under a fresh private name; returns it with its size and SHA-256."""
        temp = self.path / f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
        try:
            with os.fdopen(fd, "w+b") as fh:
                write(fh)
                fh.flush()
                fh.seek(0)
                digest = hashlib.sha256()
                size = 0
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, size, digest.hexdigest()
