"""The files an ingest pass reads: transcripts and agent sidecars below the roots (`roots.py`), and API logs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tiermon.ingest.roots import SourceError, claude_roots, walk

__all__ = ["SourceError", "SourceFile", "claude_roots", "scan"]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    kind: str  # 'claude' | 'api' | 'agent-meta'


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
    for entry in walk(root):
        yield Path(entry.path)
