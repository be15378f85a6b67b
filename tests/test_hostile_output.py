"""Hostile source fields on every output path (SPEC §8): through the real `tiermon` entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import transcripts as tx
from conftest import CliResult
from tiermon.ingest.sanitize import has_unsafe, json_safe, printable

if TYPE_CHECKING:
    from pg import TeamDb

pytest_plugins = ["pg"]

Run = Callable[..., CliResult]

ESC = "\x1b[31m"
CSI = "\x9b2J"
SESSION = "hostile0-1111-4222-8333-000000000001"
MODEL = f"claude-opus-4-6{ESC}[bold]X[/bold]{CSI}\x7f"
AGENT = f"agent{ESC}[/zz]\u202e"
ENV: dict[str, Any] = {"cwd": f"/home/dev/pro{ESC}ject[bold]", "branch": f"main{ESC}{CSI}", "version": f"2.1.39{ESC}\x07"}


def hostile_entries(session: str = SESSION) -> list[dict[str, Any]]:
    """A session whose model, agent id, project, branch, version and an entry type all carry escapes and markup."""
    return [
        tx.prompt(session, "h-u1", 0, "hello", **ENV),
        tx.assistant(session, "h-a1", 1, "msg_h1", "req_h1", MODEL, tx.usage(), **ENV),
        tx.assistant(session, "h-a2", 2, "msg_h2", "req_h2", MODEL, tx.usage(), sidechain=True, agent=AGENT, **ENV),
        {**tx.envelope(session, "h-x1", 3, **ENV), "type": f"odd{ESC}type{CSI}"},
    ]


@pytest.fixture
def hostile(tmp_path: Path, db: Path, tiermon: Run) -> Callable[..., CliResult]:
    """`tiermon --db DB --source DIR ...` over the hostile session, already ingested."""
    src = tmp_path / "claude"
    tx.write(src / "projects" / "-hostile" / f"{SESSION}.jsonl", hostile_entries())

    def run(*args: str, check: bool = True) -> CliResult:
        return tiermon("--db", str(db), "--source", str(src), *args, check=check)

    run("ingest")
    return run


def assert_clean(result: CliResult) -> None:
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert not has_unsafe(text), f"{name} holds a control character: {text!r}"
    assert "Traceback" not in result.stderr


COMMANDS = [
    ("show", SESSION), ("show", SESSION, "--responses"), ("report", "daily", "--breakdown"),
    ("report", "model"), ("report", "session", "--by", "branch"), ("report", "daily", "--by", "project"),
    ("doctor",), ("alerts",), ("prices",), ("report", "model", "--csv"), ("report", "daily", "--breakdown", "--csv"),
    ("show", SESSION, "--json"), ("report", "model", "--json"), ("doctor", "--json"),
]  # fmt: skip


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:] if a[0] == "show" else a))
def test_no_control_character_reaches_any_output(hostile: Run, args: tuple[str, ...]) -> None:
    result = hostile(*args)
    assert_clean(result)


def test_markup_in_data_is_shown_as_text(hostile: Run) -> None:
    """`[bold]` stays visible and `[/zz]` does not crash the renderer: data is never markup."""
    out = hostile("show", SESSION, "--responses").stdout
    assert "[bold]X[/bold]" in out
    assert "[/zz]" in out
    assert "␛[31m" in out  # the escape is shown, not obeyed


def test_json_keeps_the_data_and_escapes_every_control(hostile: Run) -> None:
    text = hostile("report", "model", "--json").stdout
    assert not has_unsafe(text) and "\x9b" not in text
    assert json.loads(text)["models"][0]["model"] == MODEL


def test_export_files_hold_no_raw_control_characters(hostile: Run, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    assert_clean(hostile("export", "--out", str(out)))
    for path in out.iterdir():
        if path.suffix in (".csv", ".jsonl", ".html", ".json"):
            text = path.read_text("utf-8")
            assert not has_unsafe(text), path.name
    rows = [json.loads(line) for line in (out / "responses.jsonl").read_text().splitlines()]
    assert {r["model"] for r in rows} == {MODEL}  # JSONL escapes, it does not alter


def test_sanitiser_keeps_length_newline_and_tab() -> None:
    text = f"a{ESC}\tb\nc{CSI}\x7f\u202e"
    clean = printable(text)
    assert len(clean) == len(text) and "\t" in clean and "\n" in clean and not has_unsafe(clean)
    assert "\n" not in printable("a\nb", one_line=True)
    assert json.loads(json_safe(json.dumps("x\x9by\u202e", ensure_ascii=False))) == "x\x9by\u202e"


def test_team_report_shows_other_users_rows_as_plain_text(team_db: TeamDb, tmp_path: Path, tiermon: Run) -> None:
    """Another member pushed hostile fields (and a hostile user name): the team report prints them harmlessly."""
    root = tmp_path / "mallory"
    config = root / "config"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[team]\nuser = "mal\\u001b[31mlory[bold]"\nmachine = "box\\u009b2J"\n')
    src = root / "claude"
    tx.write(src / "projects" / "-hostile" / f"{SESSION}.jsonl", hostile_entries())
    env = {"TIERMON_CONFIG_DIR": str(config), "TIERMON_DATA_DIR": str(root / "data")}
    base = ("--db", str(root / "data" / "t.duckdb"), "--source", str(src))
    tiermon(*base, "team", "push", env={**env, "TIERMON_TEAM_URL": team_db.push_url})
    for args in (("weekly", "--by", "user", "--breakdown"), ("session", "--by", "branch"), ("model", "--by", "machine"),
                 ("daily", "--by", "project", "--csv"), ("model", "--json")):  # fmt: skip
        result = tiermon(*base, "team", "report", *args, env={**env, "TIERMON_TEAM_URL": team_db.view_url})
        assert_clean(result)
