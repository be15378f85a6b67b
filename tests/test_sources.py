"""Discovery of every source's roots and files (SPEC §2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiermon.ingest.discovery import parse_source, scan, source_roots
from tiermon.ingest.rows import SourceError


def _config_dir(path: Path) -> Path:
    (path / "projects" / "p").mkdir(parents=True)
    return path


def claude_roots(explicit: list[Path] | None = None, env: dict[str, str] | None = None) -> list[Path]:
    pairs = [("claude", p) for p in explicit] if explicit else None
    return source_roots(pairs, env=env or {})["claude"]


def test_claude_config_dir_is_a_comma_list_of_config_or_projects_dirs(tmp_path: Path) -> None:
    a = _config_dir(tmp_path / "a")
    b = _config_dir(tmp_path / "b")
    roots = claude_roots(env={"CLAUDE_CONFIG_DIR": f"{a}, {b / 'projects'}", "HOME": str(tmp_path)})
    assert roots == [a / "projects", b / "projects"]


def test_default_roots_are_xdg_and_dot_claude(tmp_path: Path) -> None:
    xdg = _config_dir(tmp_path / ".config" / "claude")
    dot = _config_dir(tmp_path / ".claude")
    assert claude_roots(env={"HOME": str(tmp_path)}) == [xdg / "projects", dot / "projects"]


def test_explicit_source_replaces_discovery_and_must_exist(tmp_path: Path) -> None:
    _config_dir(tmp_path / ".claude")
    mine = tmp_path / "mine"
    mine.mkdir()
    assert claude_roots([mine], env={"HOME": str(tmp_path)}) == [mine]
    with pytest.raises(SourceError, match="source folder not found"):
        claude_roots([tmp_path / "missing"])


def test_a_source_argument_names_its_kind_or_is_claude_code(tmp_path: Path) -> None:
    assert parse_source(str(tmp_path)) == ("claude", tmp_path)
    assert parse_source(f"api={tmp_path}") == ("api", tmp_path)
    with pytest.raises(SourceError, match="unknown source kind 'nosuch'"):
        parse_source(f"nosuch={tmp_path}")


def test_scan_finds_every_layout_and_skips_symlinks(tmp_path: Path) -> None:
    p = tmp_path / "projects" / "-home-dev-x"
    (p / "s1" / "subagents").mkdir(parents=True)
    for f in ["s1.jsonl", "agent-abc1234.jsonl", "s1/subagents/agent-a1.jsonl", "s1/subagents/agent-a1.meta.json"]:
        (p / f).write_text("{}\n")
    outside = tmp_path / "outside.jsonl"
    outside.write_text("{}\n")
    (p / "link.jsonl").symlink_to(outside)
    found = {(str(s.path.relative_to(p)), s.format) for s in scan({"claude": [tmp_path / "projects"]})}
    assert found == {("s1.jsonl", "claude-transcript"), ("agent-abc1234.jsonl", "claude-transcript"),
                     ("s1/subagents/agent-a1.jsonl", "claude-transcript"),
                     ("s1/subagents/agent-a1.meta.json", "claude-agent-meta")}  # fmt: skip
