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


def test_a_listing_is_reused_only_while_no_folder_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resident process lists the same roots on every pass; it reuses the last listing while no folder
    below them gained, lost or renamed an entry, and lists again the moment one did."""
    import os

    from tiermon.ingest import discovery

    root = tmp_path / "claude" / "projects"
    for name in ("-a/1.jsonl", "-b/2.jsonl"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}\n")

    def age(*paths: Path) -> None:  # folders changed long ago: their mtimes can be trusted
        for path in paths:
            os.utime(path, (1_000_000_000, 1_000_000_000))

    age(root, root / "-a", root / "-b", root.parent)
    roots = source_roots([("claude", root)])
    assert [Path(f.key).name for f in scan(roots)] == ["1.jsonl", "2.jsonl"]
    listed = 0
    real = discovery._scan

    def counting(r: dict[str, list[Path]]) -> list[object]:
        nonlocal listed
        listed += 1
        return real(r)  # type: ignore[return-value]

    monkeypatch.setattr(discovery, "_scan", counting)
    assert [Path(f.key).name for f in scan(roots)] == ["1.jsonl", "2.jsonl"] and listed == 0  # reused
    (root / "-a" / "1.jsonl").write_text("{}\n{}\n")  # an append moves no folder
    assert len(scan(roots)) == 2 and listed == 0
    (root / "-b" / "3.jsonl").write_text("{}\n")  # a new file in a known folder
    assert [Path(f.key).name for f in scan(roots)] == ["1.jsonl", "2.jsonl", "3.jsonl"] and listed == 1
    assert len(scan(roots)) == 3 and listed == 2  # that folder changed just now: not trusted yet (racy)
    age(root / "-b")
    (root / "-c" / "sub").mkdir(parents=True)  # a new folder, then a file deep inside it
    (root / "-c" / "sub" / "4.jsonl").write_text("{}\n")
    assert [Path(f.key).name for f in scan(roots)][-1] == "4.jsonl"
    age(root, root / "-b", root / "-c", root / "-c" / "sub")
    scan(roots)
    before = listed
    (root / "-a" / "1.jsonl").unlink()  # a removed file
    assert "1.jsonl" not in [Path(f.key).name for f in scan(roots)] and listed == before + 1


def test_a_listing_through_a_symlinked_root_sees_new_folders(tmp_path: Path) -> None:
    """`projects` may be a symlink to another disk: its target's changes are what count."""
    import os

    real = tmp_path / "disk" / "projects"
    (real / "-a").mkdir(parents=True)
    (real / "-a" / "1.jsonl").write_text("{}\n")
    link = tmp_path / "claude" / "projects"
    link.parent.mkdir()
    link.symlink_to(real, target_is_directory=True)
    for path in (real, real / "-a"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    roots = source_roots([("claude", link)])
    assert [Path(f.key).name for f in scan(roots)] == ["1.jsonl"]
    (real / "-b").mkdir()
    (real / "-b" / "2.jsonl").write_text("{}\n")
    assert [Path(f.key).name for f in scan(roots)] == ["1.jsonl", "2.jsonl"]
