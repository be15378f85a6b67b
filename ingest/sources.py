"""Where transcripts and API logs live (SPEC §2.1), and the files below them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class SourceError(ValueError):
    """A source the user named that cannot be read; the message is one line."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    kind: str  # 'claude' | 'api' | 'agent-meta'


def claude_roots(explicit: list[Path] | None = None, env: dict[str, str] | None = None) -> list[Path]:
    """The folders to scan for transcripts.

    `--source` replaces discovery entirely; otherwise every CLAUDE_CONFIG_DIR
    entry, else both the XDG config dir and ~/.claude (ccusage does the same).
    """
    if explicit:
        for root in explicit:
            if not root.is_dir():
                raise SourceError(f"source folder not found: {root}")
        return [_projects_dir(root) for root in explicit]
    env = dict(os.environ) if env is None else env
    configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
    if configured:
        candidates = [Path(p).expanduser() for p in configured]
    else:
        home = Path(env.get("HOME") or Path.home())
        xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        candidates = [xdg / "claude", home / ".claude"]
    roots: list[Path] = []
    for cand in candidates:
        projects = _projects_dir(cand)
        if projects.is_dir() and projects not in roots:
            roots.append(projects)
    return roots


def _projects_dir(root: Path) -> Path:
    """A config dir's projects/ folder when it has one; else the folder itself."""
    projects = root / "projects"
    return projects if projects.is_dir() else root


def scan(roots: list[Path], api_logs: list[Path] | None = None) -> Iterator[SourceFile]:
    """Every transcript, agent sidecar and API log, without following symlinks (SPEC §8)."""
    for root in roots:
        for path in _walk(root):
            if path.name.endswith(".jsonl"):
                yield SourceFile(path, "claude")
            elif path.name.endswith(".meta.json") and path.name.startswith("agent-"):
                yield SourceFile(path, "agent-meta")
    for log in api_logs or []:
        if log.is_dir():
            for path in _walk(log):
                if path.name.endswith((".jsonl", ".ndjson", ".log")):
                    yield SourceFile(path, "api")
        elif log.is_file():
            yield SourceFile(log, "api")
        else:
            raise SourceError(f"API log not found: {log}")


def _walk(root: Path) -> Iterator[Path]:
    """Regular files below root in a stable order; symlinked files and folders are skipped."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield Path(entry.path)
        stack.extend(reversed(subdirs))
