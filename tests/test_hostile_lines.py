"""Hostile or damaged transcript lines: each costs only itself, and nothing stops a pass (SPEC §8).

Every case goes through the real `tiermon` entry point: a bad line is quarantined with a
reason, the good lines beside it are stored, and every later command still answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult
from transcripts import assistant, envelope, prompt, usage, write

Run = Callable[..., CliResult]
S = "0d5e8a3c-1111-4222-8333-944455556666"
GOOD = assistant(S, "a-good", 5, "msg_good", "req_good", "claude-haiku-4-5", usage(out=7))


def _ingest_and_report(tiermon: Run, db: Path, root: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tiermon("--db", str(db), "--source", str(root), "ingest")
    report = json.loads(tiermon("--db", str(db), "--source", str(root), "report", "model", "--json").stdout)
    doctor = json.loads(tiermon("--db", str(db), "--source", str(root), "doctor", "--json").stdout)
    return report, doctor["quarantine_latest"]


def _transcript(root: Path, bad: list[str]) -> Path:
    path = root / "projects" / "-home-dev-shop" / f"{S}.jsonl"
    write(path, [prompt(S, "u1", 0, "go")])
    with path.open("a", encoding="utf-8") as fh:
        for line in bad:
            fh.write(line + "\n")
    write(path, [GOOD], mode="a")
    return path


def _bad_usage(**values: Any) -> str:
    return json.dumps(assistant(S, "a-bad", 3, "msg_bad", "req_bad", "claude-opus-4-6", usage(**values)))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (_bad_usage(out=2**63), "bad value"),
        (_bad_usage(out=2**62, w5=2**62), "bad value"),
        (_bad_usage(out=-5), "bad value"),
        (_bad_usage(out=12.5), "bad value"),
        (_bad_usage(out="abc"), "bad value"),
        (_bad_usage(out=[5]), "bad value"),
        (_bad_usage(out=1e30), "bad value"),
        ('{"type": "user", "x": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply"),
        (json.dumps({**envelope(S, "a-ts", 4), "timestamp": "yesterday-ish", "type": "assistant",
                     "message": {"id": "m_ts", "model": "claude-opus-4-6", "usage": usage()}}), "bad value"),
    ],
)  # fmt: skip
def test_a_bad_line_is_quarantined_and_the_rest_is_stored(
    tiermon: Run, db: Path, tmp_path: Path, line: str, reason: str
) -> None:
    _transcript(tmp_path / "claude", [line])
    report, quarantined = _ingest_and_report(tiermon, db, tmp_path / "claude")
    assert [m["model"] for m in report["models"]] == ["claude-haiku-4-5"]
    assert report["models"][0]["output_tokens"] == 7
    assert len(quarantined) == 1 and reason in quarantined[0]["reason"]


def test_a_rewrite_in_place_to_the_same_size_is_read_again(tiermon: Run, db: Path, tmp_path: Path) -> None:
    root = tmp_path / "claude"
    padding = {"type": "summary", "summary": "x" * 5000}  # the first 4 KB stay the same
    path = root / "projects" / "-home-dev-shop" / f"{S}.jsonl"
    first = assistant(S, "a1", 5, "msg_aaaa", "req_aaaa", "claude-haiku-4-5", usage(out=7))
    write(path, [padding, first])
    tiermon("--db", str(db), "--source", str(root), "ingest")
    second = assistant(S, "a1", 5, "msg_bbbb", "req_bbbb", "claude-haiku-4-5", usage(out=8))
    size = path.stat().st_size
    write(path, [padding, second])
    assert path.stat().st_size == size
    report, _ = _ingest_and_report(tiermon, db, root)
    assert report["models"][0]["requests"] == 2


def test_an_inline_sidechain_read_over_several_passes_is_one_subagent(
    tiermon: Run, db: Path, tmp_path: Path
) -> None:
    root = tmp_path / "claude"
    path = root / "projects" / "-home-dev-shop" / f"{S}.jsonl"
    side: dict[str, Any] = {"sidechain": True, "version": "1.0.108"}
    lines = [
        prompt(S, "u1", 0, "review it"),
        {**prompt(S, "s1", 1, "Review the diff", parent=None, **side)},
        assistant(S, "s2", 2, "msg_s2", "req_s2", "claude-haiku-4-5", usage(out=3), parent="s1", **side),
        {**prompt(S, "s3", 3, "and the tests", parent="s2", **side)},
        assistant(S, "s4", 4, "msg_s4", "req_s4", "claude-haiku-4-5", usage(out=4), parent="s3", **side),
    ]
    for line in lines:  # one pass per line: the grouping must survive between processes
        write(path, [line], mode="a")
        tiermon("--db", str(db), "--source", str(root), "ingest")
    data = json.loads(tiermon("--db", str(db), "--source", str(root), "report", "session", "--json").stdout)
    [session] = data["sessions"]
    assert len({a["agent_id"] for a in session["subagents"]}) == 1
