"""OpenAI Codex CLI rollouts (SPEC §2.4, formats/codex.md): where they live and the format that reads them.

A Codex home (`$CODEX_HOME`, else `~/.codex`) keeps one JSONL file per thread
in `sessions/YYYY/MM/DD/rollout-*.jsonl`, and moves archived ones, same name,
to `archived_sessions/`. `parse.py` holds the counting rules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from tiermon.ingest.rows import Format, SourceFile
from tiermon.ingest.sources.codex.parse import AGENT, SOURCE_KIND, parse_rollout
from tiermon.ingest.sources.codex.state import FileState
from tiermon.ingest.walk import absolute, walk

ROLLOUT = Format("codex-rollout", parse_rollout, FileState)
ARCHIVE_DIR = "archived_sessions"


class CodexCli:
    kind: str = SOURCE_KIND
    agent: str = AGENT
    label: str = "Codex CLI"
    formats: tuple[Format, ...] = (ROLLOUT,)

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        """`$CODEX_HOME` if set, else `~/.codex`, when it exists."""
        home = env.get("CODEX_HOME", "").strip()
        root = absolute(Path(home)) if home else absolute(Path(env.get("HOME") or Path.home()) / ".codex")
        return [root] if root.is_dir() else []

    def root_for(self, path: Path) -> Path:
        """A Codex home or any folder of rollouts is read as it is."""
        return path

    def files(self, root: Path) -> Iterator[SourceFile]:
        """Every `rollout-*.jsonl` below root; an archived copy of a live file is read once, as the live one."""
        if root.is_file():
            yield SourceFile(root, SOURCE_KIND, ROLLOUT.name)
            return
        live: set[str] = set()
        archived: list[Path] = []
        for entry in walk(root):
            name = entry.name
            if not (name.startswith("rollout-") and name.endswith(".jsonl")):
                continue
            path = Path(entry.path)
            if ARCHIVE_DIR in Path(os.path.relpath(path, root)).parts[:-1]:
                archived.append(path)
                continue
            live.add(name)
            yield SourceFile(path, SOURCE_KIND, ROLLOUT.name)
        for path in archived:
            if path.name not in live:
                yield SourceFile(path, SOURCE_KIND, ROLLOUT.name)


SOURCE = CodexCli()
