"""Where transcripts live (SPEC §2.1) and how the files below a folder are walked.

Kept to `os` and `pathlib`: every command discovers its sources, so this
must stay cheap to import.
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class SourceError(ValueError):
    """A source the user named that cannot be read; the message is one line."""


def claude_roots(explicit: list[Path] | None = None, env: dict[str, str] | None = None) -> list[Path]:
    """The folders to scan for transcripts.

    `--source` replaces discovery entirely; otherwise every CLAUDE_CONFIG_DIR
    entry, else both the XDG config dir and ~/.claude (ccusage does the same).
    Roots come back absolute: the store knows a file by its path, so the same
    folder named relatively and absolutely must not read as two sets of files.
    """
    if explicit:
        for root in explicit:
            if not root.is_dir():
                raise SourceError(f"source folder not found: {root}")
        return [projects_dir(absolute(root)) for root in explicit]
    env = dict(os.environ) if env is None else env
    configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    if configured:
        candidates = [absolute(Path(p)) for p in configured]
    else:
        home = Path(env.get("HOME") or Path.home())
        xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        candidates = [absolute(xdg / "claude"), absolute(home / ".claude")]
    roots: list[Path] = []
    for cand in candidates:
        projects = projects_dir(cand)
        if projects.is_dir() and projects not in roots:
            roots.append(projects)
    return roots


def absolute(path: Path) -> Path:
    """`path` made absolute and normalised (`..` removed) without following symlinks."""
    return Path(os.path.abspath(path.expanduser()))


def projects_dir(root: Path) -> Path:
    """A config dir's projects/ folder when it has one; else the folder itself."""
    projects = root / "projects"
    return projects if projects.is_dir() else root


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
