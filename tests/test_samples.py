"""The committed demo data must be exactly what samples/generate.py produces, and parseable."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import tiermon.samples
from tiermon.samples.generate import DEFAULT_NOW, generate, live_script

SAMPLES = Path(tiermon.samples.__file__).parent
"""The committed samples folder (holds claude/ and api/)."""


def _data_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for sub in ("claude", "api") for p in sorted((root / sub).rglob("*")) if p.is_file()}


def test_regenerating_gives_the_committed_bytes(tmp_path: Path) -> None:
    written = generate(tmp_path)
    fresh, committed = _data_files(tmp_path), _data_files(SAMPLES)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(fresh)
    assert sorted(fresh) == sorted(committed), "run: python samples/generate.py"
    drifted = [name for name in fresh if fresh[name] != committed[name]]
    assert not drifted, f"regenerate with python samples/generate.py: {drifted}"


def test_every_line_is_json_except_the_one_quarantine_example() -> None:
    bad = []
    for name, data in _data_files(SAMPLES).items():
        text = data.decode("utf-8")
        assert text.endswith("\n") and "\r" not in text
        if name.endswith(".meta.json"):
            json.loads(text)
            continue
        for n, line in enumerate(text.splitlines(), 1):
            try:
                json.loads(line)
            except json.JSONDecodeError:
                bad.append((name, n))
    assert len(bad) == 1, bad  # the corrupt line that demonstrates quarantine


def test_samples_cover_every_layout_and_tier() -> None:
    entries = []
    for name, data in _data_files(SAMPLES).items():
        for line in data.decode().splitlines() if name.endswith(".jsonl") else []:
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    models = {e["message"]["model"] for e in entries if e.get("type") == "assistant"}
    assert {"claude-opus-4-6", "claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929",
            "claude-sonnet-4-6", "claude-haiku-4-5-20251001", "claude-fable-5-1",
            "<synthetic>"} <= models
    names = _data_files(SAMPLES).keys()
    assert any("/subagents/agent-acompact-" in n for n in names)
    assert any(n.endswith(".meta.json") for n in names)
    assert any("/subagents/" not in n and "/agent-" in n for n in names)  # flat 2.0.x agents
    assert any(e.get("isSidechain") and "agentId" not in e for e in entries)  # inline 1.0.x
    assert any(e.get("subtype") == "compact_boundary" for e in entries)


def test_live_script_continues_the_live_session(tmp_path: Path) -> None:
    generate(tmp_path)
    steps = list(itertools.islice(live_script(tmp_path, now=DEFAULT_NOW), 250))
    assert len(steps) == 250
    stamps = []
    for path, lines in steps:
        assert path.is_relative_to(tmp_path / "claude/projects") and path.parent.is_dir()
        assert 1 <= len(lines) <= 2
        for line in lines:
            entry = json.loads(line)
            if "/subagents/" not in path.as_posix() and "timestamp" in entry:
                stamps.append(entry["timestamp"])
    assert stamps == sorted(stamps) and stamps[0] > DEFAULT_NOW.strftime("%Y-%m-%dT%H:%M:%S")
    assert any("/subagents/agent-" in p.as_posix() for p, _ in steps)
