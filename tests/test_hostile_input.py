"""Leaks, bad settings, bad rows and a damaged store (SPEC §8): through the real `tiermon` entry point."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import transcripts as tx
from conftest import CliResult
from tiermon.ingest.redact import PATTERNS, SECRET, SecretPattern, scrub

Run = Callable[..., CliResult]

SESSION = "hostinp0-1111-4222-8333-000000000001"
LEAKS = {
    "PGPASSWORD=Pg-Leak-4471 psql -h db": "Pg-Leak-4471",
    "MYSQL_PWD=My-Leak-4472 mysql shop": "My-Leak-4472",
    "NPM_TOKEN=Npm-Leak-4473 npm publish": "Npm-Leak-4473",
    "HF_TOKEN=Hf-Leak-4474 python train.py": "Hf-Leak-4474",
    "aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": "wJalrXUtnFEMI",
    "psql --password Opt-Leak-4475": "Opt-Leak-4475",
    "mysql -uroot -pDashP-Leak-4476 shop": "DashP-Leak-4476",
    "sshpass -p Ssh-Leak-4477 ssh host": "Ssh-Leak-4477",
}


def one_line_error(result: CliResult, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("tiermon: error:") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    entries = [tx.prompt(SESSION, f"p{i}", i * 10, f"run {text}") for i, text in enumerate(LEAKS)]
    entries.append(tx.assistant(SESSION, "a1", 200, "msg_1", "req_1", "claude-sonnet-4-5", tx.usage()))
    tx.write(root / "projects" / "-shop" / f"{SESSION}.jsonl", entries)
    return root


# -- leaks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: p.name)
def test_each_secret_pattern_has_a_positive_and_a_negative_example(pattern: SecretPattern) -> None:
    assert SECRET in pattern.sub(pattern.secret_example)
    assert scrub(pattern.secret_example) != pattern.secret_example
    assert scrub(pattern.plain_example) == pattern.plain_example
    assert scrub(scrub(pattern.secret_example)) == scrub(pattern.secret_example)


def test_export_with_text_scrubs_env_passwords_and_cli_options(tiermon: Run, src: Path, db: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit"
    tiermon("--db", str(db), "--source", str(src), "export", "--out", str(out), "--include-text")
    written = "".join(p.read_text("utf-8") for p in out.iterdir() if p.suffix in (".jsonl", ".csv", ".html"))
    assert "PGPASSWORD=" in written and "sshpass -p" in written  # the text was kept ...
    for secret in LEAKS.values():
        assert secret not in written, secret  # ... and the secret in it was not


def test_export_refuses_an_out_folder_that_is_a_symlink(tiermon: Run, src: Path, db: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    result = tiermon("--db", str(db), "--source", str(src), "export", "--out", str(link), check=False)
    one_line_error(result, "symlink")
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("url, password", [
    ("postgresql://bob:Tail@Secret99@127.0.0.1:1/team?connect_timeout=2", "Tail@Secret99"),
    ("postgresql://bob:Whole-Secret99@[::1/team", "Whole-Secret99"),
    ("postgresql://bob:Space Secret99@127.0.0.1:1/team", "Space Secret99"),
])  # fmt: skip
def test_team_url_errors_show_no_part_of_the_password(tiermon: Run, src: Path, db: Path, url: str, password: str) -> None:
    result = tiermon("--db", str(db), "--source", str(src), "team", "report", "daily", check=False,
                     env={"TIERMON_TEAM_URL": url})  # fmt: skip
    one_line_error(result)
    for piece in {password, *password.replace("@", " ").split()}:
        assert piece not in result.stderr, result.stderr


def test_database_and_wal_are_0600_from_birth_and_after_a_kill(tiermon: Run, src: Path, db: Path) -> None:
    """A writer killed with its .wal on disk: the .wal was born 0600, and a loose one is fixed on the next open."""
    script = f"""
import os, stat, sys
from pathlib import Path
from tiermon.ingest.store import Store
opened = Store.open(Path({str(db)!r}))
store = opened.__enter__()
store.query("CREATE TABLE crash_probe AS SELECT 1 AS a")
wal = Path({str(db)!r} + ".wal")
print(oct(stat.S_IMODE(wal.stat().st_mode)))
sys.stdout.flush()
os._exit(9)
"""
    tiermon("--db", str(db), "--source", str(src), "ingest")
    born = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert born.stdout.strip() == "0o600", born.stderr
    wal = Path(str(db) + ".wal")
    assert wal.exists()
    os.chmod(wal, 0o644)  # as an older tiermon left it
    tiermon("--db", str(db), "--source", str(src), "report", "daily")
    for path in (db, wal):
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_a_damaged_database_is_one_line_with_the_remedy(tiermon: Run, src: Path, db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"\x00garbage" * 4096)
    for args in (("report", "daily"), ("ingest",)):
        result = tiermon("--db", str(db), "--source", str(src), *args, check=False)
        one_line_error(result, "is damaged", "move it aside", "tiermon ingest")


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize("toml, key", [
    ('sources = "x"', "sources"),
    ("[sources]\nclaude = [1, 2]", "[sources] claude[0]"),
    ("thresholds = 5", "thresholds"),
    ("[store]\ndb = 5", "[store] db"),
    ("[thresholds]\nchurn_asks = inf", "[thresholds] churn_asks"),
    ("[team]\nurl = 5", "[team] url"),
    ('[thresholds]\ncontext_alert = "nan"', "[thresholds] context_alert"),
    ("[thresholds]\ncontext_alert = nan", "[thresholds] context_alert"),
    ("[thresholds]\ncontext_alert = 1.5", "[thresholds] context_alert"),
    ("[thresholds]\nchurn_asks = 0", "[thresholds] churn_asks"),
    ("[thresholds]\nchurn_asks = true", "[thresholds] churn_asks"),
    ("[thresholds]\nno_such = 3", "no_such"),
    ("[nonsense]\nx = 1", "[nonsense]"),
])  # fmt: skip
def test_bad_settings_are_one_line_naming_the_key(tiermon: Run, db: Path, isolated_env: Path, toml: str,
                                                  key: str) -> None:  # fmt: skip
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(toml + "\n")
    one_line_error(tiermon("--db", str(db), "report", "daily", check=False), key)


def test_a_single_string_of_paths_is_one_path(tiermon: Run, src: Path, db: Path, isolated_env: Path) -> None:
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[sources]\nclaude = {json.dumps(str(src))}\n")
    report = json.loads(tiermon("--db", str(db), "report", "daily", "--json").stdout)
    assert report["totals"]["requests"] == 1


# -- lines with no readable time ----------------------------------------------------------------


def test_lines_with_no_readable_time_are_quarantined_and_every_command_answers(tiermon: Run, db: Path, tmp_path: Path) -> None:
    root = tmp_path / "claude"
    odd = tx.assistant(SESSION, "a0", 5, "msg_0", "req_0", "claude-opus-4-6", tx.usage())
    odd["timestamp"] = "not a time"
    late_prompt = tx.prompt(SESSION, "p1", 20, "again")
    late_prompt["timestamp"] = "garbage"
    entries = [tx.prompt(SESSION, "p0", 0, "hi"), odd, late_prompt,
               tx.assistant(SESSION, "a1", 30, "msg_1", "req_1", "claude-sonnet-4-5", tx.usage())]  # fmt: skip
    tx.write(root / "projects" / "-shop" / f"{SESSION}.jsonl", entries)
    base = ("--db", str(db), "--source", str(root))
    for args in (("show", SESSION[:8]), ("show", SESSION[:8], "--responses"), ("show", SESSION[:8], "--json"),
                 ("report", "daily"), ("report", "weekly", "--breakdown"), ("report", "blocks"), ("alerts",)):  # fmt: skip
        result = tiermon(*base, *args)
        assert "Traceback" not in result.stderr
    doctor = json.loads(tiermon(*base, "doctor", "--json").stdout)
    assert sorted(q["line_offset"] for q in doctor["quarantine_latest"]) == sorted(
        doctor_offsets(root / "projects" / "-shop" / f"{SESSION}.jsonl", (1, 2))
    )
    assert json.loads(tiermon(*base, "report", "daily", "--json").stdout)["totals"]["requests"] == 1


def doctor_offsets(path: Path, lines: tuple[int, ...]) -> list[int]:
    """Byte offsets of the given 0-based lines of `path`."""
    offsets, at = [], 0
    for n, line in enumerate(path.read_bytes().splitlines(keepends=True)):
        if n in lines:
            offsets.append(at)
        at += len(line)
    return offsets
