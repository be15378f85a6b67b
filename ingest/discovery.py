"""Which files an ingest pass reads: every registered source's files below its roots (SPEC §2).

`--source` given anywhere replaces discovery for every agent: nothing from the
user's own homes is read then. API logs are only ever the ones named.
"""

from __future__ import annotations

import os
from pathlib import Path

from tiermon.ingest.rows import SourceError, SourceFile
from tiermon.ingest.sources import DEFAULT_KIND, SOURCES
from tiermon.ingest.walk import Folders, absolute, folder_state, recording_folders, unchanged

SourceRoot = tuple[str, Path]
"""(source kind, folder or file) as the user named it."""


def parse_source(value: str) -> SourceRoot:
    """`DIR` (Claude Code) or `KIND=DIR` -> (kind, DIR); an unknown kind is a SourceError."""
    kind, sep, rest = value.partition("=")
    if sep and kind in SOURCES:
        return kind, Path(rest)
    if sep and kind.isidentifier() and not Path(value).exists():
        raise SourceError(f"unknown source kind {kind!r} (known: {', '.join(SOURCES)})")
    return DEFAULT_KIND, Path(value)


def source_roots(
    explicit: list[SourceRoot] | None, api_logs: list[Path] | None = None, env: dict[str, str] | None = None
) -> dict[str, list[Path]]:
    """Kind -> the absolute folders (or files) to read, named or discovered."""
    env = dict(os.environ) if env is None else env
    roots: dict[str, list[Path]] = {kind: [] for kind in SOURCES}
    if explicit:
        for kind, path in explicit:
            if not path.exists():
                raise SourceError(f"source folder not found: {path}")
            root = SOURCES[kind].root_for(absolute(path))
            if root not in roots[kind]:
                roots[kind].append(root)
    else:
        for kind, source in SOURCES.items():
            roots[kind] = source.default_roots(env)
    for log in api_logs or []:
        if not log.exists():
            raise SourceError(f"API log not found: {log}")
        if absolute(log) not in roots["api"]:
            roots["api"].append(absolute(log))
    return roots


_SCANS: dict[tuple[tuple[str, tuple[str, ...]], ...], tuple[list[SourceFile], Folders]] = {}
"""The last listings of this process, by roots: a dashboard or `tiermon serve` passes again and again
over the same thousands of files, and listing them again cost each pass ~30 ms."""
_SCANS_KEPT = 4


def scan(roots: dict[str, list[Path]]) -> list[SourceFile]:
    """Every file of every source below its roots, without following symlinks (SPEC §8).

    A file belongs to one source. Claude Code's walk takes any `*.jsonl`, so it
    goes last: where one folder is named for several agents, each more specific
    source claims its own files first. A process that lists the same roots again
    reuses its last listing while no folder below them gained, lost or renamed an entry.
    """
    key = tuple((kind, tuple(map(str, paths))) for kind, paths in sorted(roots.items()))
    cached = _SCANS.get(key)
    if cached is not None and unchanged(cached[1]):
        return list(cached[0])
    with recording_folders() as folders:
        for paths in roots.values():
            for root in paths:  # a source may list a root's top files itself (OpenCode), or name a file
                folders[str(root)] = folder_state(str(root))
        files = _scan(roots)
    _SCANS.pop(key, None)
    _SCANS[key] = (files, folders)
    while len(_SCANS) > _SCANS_KEPT:
        del _SCANS[next(iter(_SCANS))]
    return list(files)


def _scan(roots: dict[str, list[Path]]) -> list[SourceFile]:
    files: list[SourceFile] = []
    seen: set[str] = set()  # path strings: hashing thousands of Path objects cost a pass ~10 ms
    for kind, paths in sorted(roots.items(), key=lambda item: item[0] == DEFAULT_KIND):
        for root in paths:
            for file in SOURCES[kind].files(root):
                key = file.key
                if key not in seen:
                    seen.add(key)
                    files.append(file)
    return files


def watch_paths(roots: dict[str, list[Path]]) -> list[str]:
    """Existing folders and files a watcher should observe."""
    return [str(p) for paths in roots.values() for p in paths if os.path.exists(p)]
