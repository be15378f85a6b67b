"""Claude Code transcripts (SPEC §2.1): where they live, and the formats of their files.

Everything tiermon knows of Claude Code's format is in this folder:
`records.py` (the typed entry structs), `parse.py` (the counting and
classification rules), `agent_meta.py` (subagent sidecars).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tiermon.ingest.rows import Format, SourceFile
from tiermon.ingest.sources.claude.agent_meta import parse_agent_meta
from tiermon.ingest.sources.claude.parse import AGENT, SOURCE_KIND, FileState, parse_chunk
from tiermon.ingest.walk import absolute, walk

TRANSCRIPT = Format("claude-transcript", parse_chunk, FileState)
AGENT_META = Format("claude-agent-meta", parse_agent_meta, whole_file=True)


class ClaudeCode:
    kind: str = SOURCE_KIND
    agent: str = AGENT
    label: str = "Claude Code"
    formats: tuple[Format, ...] = (TRANSCRIPT, AGENT_META)

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        """Every CLAUDE_CONFIG_DIR entry, else both the XDG config dir and ~/.claude (as ccusage does)."""
        configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
        if configured:
            candidates = [absolute(Path(p)) for p in configured]
        else:
            home = Path(env.get("HOME") or Path.home())
            xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
            candidates = [absolute(xdg / "claude"), absolute(home / ".claude")]
        roots: list[Path] = []
        for cand in candidates:
            projects = self.root_for(cand)
            if projects.is_dir() and projects not in roots:
                roots.append(projects)
        return roots

    def root_for(self, path: Path) -> Path:
        """A config dir's projects/ folder when it has one; else the folder itself."""
        projects = path / "projects"
        return projects if projects.is_dir() else path

    def files(self, root: Path) -> Iterator[SourceFile]:
        for entry in walk(root):
            name = entry.name
            if name.endswith(".jsonl"):
                yield SourceFile(entry.path, SOURCE_KIND, TRANSCRIPT.name)
            elif name.endswith(".meta.json") and name.startswith("agent-"):
                yield SourceFile(entry.path, SOURCE_KIND, AGENT_META.name)


SOURCE = ClaudeCode()
