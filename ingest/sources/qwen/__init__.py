"""Qwen Code (SPEC §2.4, formats/qwen.md): where its sessions live, and the formats of their files.

`chat.py` reads the JSONL chat records (≥ 0.4) and holds the counting rules,
`legacy.py` the single-JSON sessions of 0.1–0.3, `agent_meta.py` the
background subagents' sidecars.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tiermon.ingest.rows import Format, SourceFile
from tiermon.ingest.sources.qwen.agent_meta import parse_agent_meta
from tiermon.ingest.sources.qwen.chat import AGENT, SOURCE_KIND, FileState, parse_chunk
from tiermon.ingest.sources.qwen.legacy import parse_legacy
from tiermon.ingest.walk import absolute, walk

CHAT = Format("qwen-chat", parse_chunk, FileState)
LEGACY = Format("qwen-legacy", parse_legacy, whole_file=True)
AGENT_META = Format("qwen-agent-meta", parse_agent_meta, whole_file=True)


class QwenCode:
    """A Qwen home: `projects/<cwd>/chats/<sessionId>.jsonl`, `projects/<cwd>/subagents/<sessionId>/agent-*`,
    and the legacy `tmp/<hash>/chats/session-*.json`."""

    kind: str = SOURCE_KIND
    agent: str = AGENT
    label: str = "Qwen Code"
    formats: tuple[Format, ...] = (CHAT, LEGACY, AGENT_META)

    def default_roots(self, env: dict[str, str]) -> list[Path]:
        """Every QWEN_DATA_DIR entry (comma list, as peers accept), else QWEN_RUNTIME_DIR, else ~/.qwen."""
        configured = [p.strip() for p in env.get("QWEN_DATA_DIR", "").split(",") if p.strip()]
        if not configured:
            home = Path(env.get("HOME") or Path.home())
            configured = [env.get("QWEN_RUNTIME_DIR") or str(home / ".qwen")]
        roots: list[Path] = []
        for cand in configured:
            root = absolute(Path(cand))
            if ((root / "projects").is_dir() or (root / "tmp").is_dir()) and root not in roots:
                roots.append(root)
        return roots

    def root_for(self, path: Path) -> Path:
        """The folder itself: a Qwen home, its projects/ or tmp/ folder, or any folder of chat files."""
        return path

    def files(self, root: Path) -> Iterator[SourceFile]:
        """Chat files by their folder's name; settings, logs.json, checkpoints and tool outputs are skipped."""
        if root.is_file():
            if root.name.endswith(".jsonl"):
                yield SourceFile(root, SOURCE_KIND, CHAT.name)
            elif root.name.endswith(".json"):
                yield SourceFile(root, SOURCE_KIND, LEGACY.name)
            return
        for entry in walk(root):
            name, parent = entry.name, Path(entry.path).parent
            subagent = parent.parent.name == "subagents"
            if name.endswith(".jsonl") and (parent.name == "chats" or subagent):
                yield SourceFile(entry.path, SOURCE_KIND, CHAT.name)
            elif name.startswith("session-") and name.endswith(".json") and parent.name == "chats":
                yield SourceFile(entry.path, SOURCE_KIND, LEGACY.name)
            elif name.startswith("agent-") and name.endswith(".meta.json") and subagent:
                yield SourceFile(entry.path, SOURCE_KIND, AGENT_META.name)


SOURCE = QwenCode()
