"""Fuzz: arbitrary text in every field of a transcript line never reaches any output raw, nor crashes it (SPEC §8).

Runs in process through `tiermon.tui.cli.main`, the function the `tiermon` script calls, so one example
costs an incremental ingest and the output commands, not a dozen interpreter starts. One store serves the
whole run: each example adds a session of its own.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

import transcripts as tx
from tiermon.ingest.sanitize import has_unsafe
from tiermon.tui.cli import main

SPECIALS = ["\x1b[31m", "\x1b]8;;http://x\x07", "\x9b2J", "\x9b", "\x7f", "\x00", "\x07", "\r", "\x08",
            "[bold]", "[/zz]", "[/]", "[link=http://x]", "\u202e", "\u2066", "\u200f", ":smile:", "=cmd", "\n", "\t"]  # fmt: skip
"""What an attacker would try: escape and OSC sequences, the one-byte CSI, markup, bidi overrides, formulas."""

hostile_text = st.lists(
    st.one_of(st.sampled_from(SPECIALS), st.text(st.characters(exclude_categories=["Cs"]), max_size=6)),
    min_size=1, max_size=5,
).map("".join)  # fmt: skip

FIELDS = ("model", "agent", "cwd", "branch", "version", "entry_type", "prompt", "reply", "tool")

COMMANDS: list[tuple[str, ...]] = [
    ("report", "daily", "--breakdown"), ("report", "session", "--by", "branch"), ("report", "model"),
    ("report", "weekly", "--by", "project", "--csv"), ("report", "blocks", "--json"), ("report", "session", "--csv"),
    ("alerts",), ("advise",), ("doctor",), ("prices",),
]  # fmt: skip
"""Output commands run on every example; `show` and `export` are added with the example's session."""


class Workspace:
    """One source folder and one store for the whole fuzz run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.source = root / "claude" / "projects" / "-fuzz"
        self.db = root / "store" / "tiermon.duckdb"
        self.counter = itertools.count()

    def run(self, *args: str) -> tuple[int, str, str]:
        """`tiermon --db DB --source DIR ARGS` in process: exit status, stdout, stderr."""
        runner = CliRunner()
        with runner.isolation(env={"NO_COLOR": "1", "COLUMNS": "120"}) as (out, err, _):
            try:
                code = main(["--db", str(self.db), "--source", str(self.root / "claude"), *args])
                code = code if isinstance(code, int) else 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
            return code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")


@pytest.fixture(scope="module")
def workspace() -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory() as folder:
        yield Workspace(Path(folder))


def _entries(session: str, f: dict[str, str]) -> list[dict[str, Any]]:
    env: dict[str, Any] = {"cwd": f["cwd"], "branch": f["branch"], "version": f["version"]}
    tool = {"type": "tool_use", "id": "tu_1", "name": f["tool"], "input": {"command": f["tool"]}}
    return [
        tx.prompt(session, "p0", 0, f["prompt"], **env),
        tx.assistant(session, "a0", 1, "msg_0", "req_0", f["model"], tx.usage(), {"type": "text", "text": f["reply"]},
                     **env),
        tx.assistant(session, "a1", 2, "msg_1", "req_1", f["model"], tx.usage(), tool, **env),
        tx.assistant(session, "a2", 3, "msg_2", "req_2", f["model"], tx.usage(), sidechain=True, agent=f["agent"],
                     **env),
        {**tx.envelope(session, "x0", 4, **env), "type": f["entry_type"]},
    ]  # fmt: skip


def _check(ws: Workspace, args: tuple[str, ...]) -> None:
    code, out, err = ws.run(*args)
    where = " ".join(args)
    assert "Traceback" not in err, (where, err)
    assert code in (0, 1, 2), (where, code, err)
    for name, text in (("stdout", out), ("stderr", err)):
        assert not has_unsafe(text.replace("\r\n", "\n")), (where, name, text)  # CSV ends its rows with CRLF


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({name: hostile_text for name in FIELDS}))
def test_hostile_fields_never_reach_output_raw(workspace: Workspace, fields: dict[str, str]) -> None:
    n = next(workspace.counter)
    session = f"fuzz{n:04d}-1111-4222-8333-000000000000"
    tx.write(workspace.source / f"{session}.jsonl", _entries(session, fields))
    code, _, err = workspace.run("ingest")
    assert code == 0 and "Traceback" not in err, err
    for args in COMMANDS:
        _check(workspace, args)
    for args in (("show", session), ("show", session, "--responses"), ("show", session, "--json")):
        _check(workspace, args)
    out = workspace.root / f"export-{n}"
    _check(workspace, ("export", "--out", str(out), "--include-text", "--format", "csv", "--format", "jsonl",
                       "--session", session))  # fmt: skip
    for path in out.glob("*"):
        if path.suffix in (".csv", ".jsonl", ".json"):
            text = path.read_bytes().decode("utf-8")
            assert not has_unsafe(text.replace("\r\n", "\n")), (path.name, text)
            if path.suffix == ".jsonl":
                for line in text.splitlines():
                    json.loads(line)
