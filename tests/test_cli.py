"""The `tiermon` command through its real entry point, in subprocesses."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from conftest import CliResult
from transcripts import assistant, prompt, usage, write

S = "33333333-2222-3333-4444-555555555555"
Run = Callable[..., CliResult]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    write(root / "projects" / "-home-dev-shop" / f"{S}.jsonl", [
        prompt(S, "u1", 0, "hello"),
        assistant(S, "a1", 10, "m1", "r1", "claude-opus-4-6", usage(inp=100, out=200, read=1000, w5=50)),
        # 23:30 UTC on 2 March is already 3 March in Tokyo; 15:00 UTC on 3 March is 4 March there.
        assistant(S, "a2", 14.5 * 3600, "m2", "r2", "claude-haiku-4-5-20251001", usage(inp=10, out=20)),
        assistant(S, "a3", 30 * 3600, "m3", "r3", "claude-sonnet-4-6", usage(inp=5, out=5), cwd="=HYPERLINK(evil)"),
    ])  # fmt: skip
    return root


def _one_line_error(result: CliResult, text: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any(text in line for line in lines), result.stderr
    assert len(lines) <= 3  # click usage errors add a usage line and a hint


def test_session_json_contract(tiermon: Run, src: Path, db: Path) -> None:
    data = json.loads(tiermon("--db", str(db), "--source", str(src), "report", "session", "--json", "--breakdown").stdout)
    (session,) = data["sessions"]
    assert {"session_id", "project", "start", "end", "cost_usd", "models", "subagents", "switches"} <= set(session)
    assert session["session_id"] == S
    assert (session["agent"], session["vendor"]) == ("claude-code", "anthropic")
    opus = next(m for m in session["models"] if m["model"] == "claude-opus-4-6")
    assert opus == {"model": "claude-opus-4-6", "tier": "opus", "vendor": "anthropic", "reasoning_tokens": 0,
                    "tokens_per_second": None,
                    "requests": 1, "input_tokens": 100,
                    "output_tokens": 200, "cache_read_tokens": 1000, "cache_write_5m_tokens": 50,
                    "cache_write_1h_tokens": 0, "cost_usd": pytest.approx((100 * 5 + 200 * 25 + 1000 * 0.5 + 50 * 6.25) / 1e6, abs=1e-6),
                    "priced": True}  # fmt: skip
    assert data["totals"]["unpriced_models"] == []
    assert data["totals"]["cost_usd"] == pytest.approx(session["cost_usd"])


def test_options_after_the_command_and_model_report(tiermon: Run, src: Path, db: Path) -> None:
    data = json.loads(tiermon("report", "model", "--json", "--db", str(db), "--source", str(src)).stdout)
    assert [m["model"] for m in data["models"]] == ["claude-opus-4-6", "claude-haiku-4-5-20251001", "claude-sonnet-4-6"]  # by cost


def test_dates_filters_timezone_and_grouping(tiermon: Run, src: Path, db: Path) -> None:
    base = ["--db", str(db), "--source", str(src), "report", "daily", "--json"]
    utc = json.loads(tiermon(*base, "--timezone", "UTC").stdout)["daily"]
    assert [(d["period"], d["requests"]) for d in utc] == [("2026-03-02", 2), ("2026-03-03", 1)]
    tokyo = json.loads(tiermon(*base, "--timezone", "Asia/Tokyo").stdout)["daily"]
    assert [(d["period"], d["requests"]) for d in tokyo] == [("2026-03-02", 1), ("2026-03-03", 1), ("2026-03-04", 1)]
    since = json.loads(tiermon(*base, "--timezone", "UTC", "--since", "20260303").stdout)["daily"]
    assert [d["period"] for d in since] == ["2026-03-03"]
    tiers = json.loads(tiermon(*base, "--timezone", "UTC", "--by", "tier").stdout)["daily"]
    assert {(d["period"], d["group"]) for d in tiers} == {("2026-03-02", "opus"), ("2026-03-02", "haiku"), ("2026-03-03", "sonnet")}
    only_haiku = json.loads(tiermon(*base, "--tier", "haiku").stdout)
    assert only_haiku["totals"]["requests"] == 1
    shop = json.loads(tiermon(*base, "--project", "shop").stdout)
    assert shop["totals"]["requests"] == 2


def test_csv_is_safe_from_formula_injection(tiermon: Run, src: Path, db: Path) -> None:
    evil = "44444444-2222-3333-4444-555555555555"
    write(src / "projects" / "-evil" / f"{evil}.jsonl", [
        assistant(evil, "e1", 40 * 3600, "me1", "re1", "claude-sonnet-4-6", usage(inp=5, out=5), cwd="=HYPERLINK(evil)"),
    ])  # fmt: skip
    out = tiermon("--db", str(db), "--source", str(src), "report", "session", "--csv", "--by", "project").stdout
    projects = {row["group"] for row in csv.DictReader(io.StringIO(out))}
    assert "'=HYPERLINK(evil)" in projects


def test_blocks_report(tiermon: Run, src: Path, db: Path) -> None:
    blocks = json.loads(tiermon("--db", str(db), "--source", str(src), "report", "blocks", "--json").stdout)["blocks"]
    assert [b["requests"] for b in blocks] == [1, 1, 1]
    assert blocks[0]["start"] == "2026-03-02T09:00:00Z"


def test_bad_input_is_one_line_and_exit_2(tiermon: Run, src: Path, db: Path, tmp_path: Path) -> None:
    _one_line_error(tiermon("--db", str(db), "--source", str(tmp_path / "nope"), "report", "daily", check=False),
                    "source folder not found")  # fmt: skip
    _one_line_error(tiermon("--db", str(db), "--source", str(src), "report", "daily", "--since", "2026-13-01", check=False),
                    "is not a date")  # fmt: skip
    _one_line_error(tiermon("--db", str(db), "--source", str(src), "report", "daily", "--timezone", "Mars/Olympus", check=False),
                    "unknown time zone")  # fmt: skip
    bad_db = tmp_path / "corrupt.duckdb"
    bad_db.write_bytes(b"this is not a database" * 100)
    _one_line_error(tiermon("--db", str(bad_db), "--source", str(src), "report", "daily", check=False), "is damaged")
    assert bad_db.read_bytes() == b"this is not a database" * 100  # nothing overwritten


def test_locked_database_is_one_line(tiermon: Run, src: Path, db: Path) -> None:
    tiermon("--db", str(db), "--source", str(src), "ingest")
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = tiermon("--db", str(db), "--source", str(src), "report", "daily", check=False, env={"TIERMON_LOCK_WAIT": "1"})
        _one_line_error(result, "is busy")
    finally:
        holder.kill()
        holder.wait()
    # Once released, the same command works and nothing stored was lost.
    data = json.loads(tiermon("--db", str(db), "--source", str(src), "report", "daily", "--json").stdout)
    assert data["totals"]["requests"] == 3


def test_ingest_summary_prices_and_doctor(tiermon: Run, src: Path, db: Path) -> None:
    summary = json.loads(tiermon("--db", str(db), "--source", str(src), "ingest", "--json").stdout)
    assert (summary["files_read"], summary["responses"], summary["quarantined"]) == (1, 3, 0)
    assert summary["seconds"] == pytest.approx(summary["read_seconds"] + summary["signals_seconds"], abs=0.002)
    again = json.loads(tiermon("--db", str(db), "--source", str(src), "ingest", "--json").stdout)
    assert again["files_read"] == 0 and again["responses"] == 0
    prices = json.loads(tiermon("--db", str(db), "prices", "--json").stdout)
    assert any(m["model"] == "claude-haiku-4-5" and m["input"] == 1.0 for m in prices["models"])
    doctor = json.loads(tiermon("--db", str(db), "--source", str(src), "doctor", "--json").stdout)
    assert doctor["files_tailed"] == 1 and doctor["responses"] == 3 and doctor["quarantined"] == 0
    human = tiermon("--db", str(db), "--source", str(src), "report", "daily").stdout
    assert "estimates at list price" in human


def test_no_claude_data_is_a_clear_message(tiermon: Run, db: Path) -> None:
    result = tiermon("--db", str(db), "ingest", check=False)
    assert result.returncode == 1 and "no agent data found" in result.stderr


def test_help_lists_every_command(tiermon: Run) -> None:
    """Command modules load lazily; the help must still list (and describe) every one of them."""
    from tiermon.tui.cli import COMMANDS

    text = tiermon("--help").stdout
    listed = {line.split()[0] for line in text.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)
    assert "Spend per day, week, month" in text  # the report command's own help line


def test_a_session_that_moves_into_a_subfolder_is_one_project(tiermon: Run, src: Path, db: Path) -> None:
    """The fixture's session moves from /home/dev/shop into another folder: one project, its first."""
    out = tiermon("--db", str(db), "--source", str(src), "report", "session", "--csv", "--by", "project").stdout
    assert {row["group"] for row in csv.DictReader(io.StringIO(out))} == {"/home/dev/shop"}


def test_projects_are_the_same_looked_up_by_key_or_joined(
    tiermon: Run, src: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report's projects come from a key lookup for a span with few sessions and a join for many."""
    from tiermon.ingest import reports
    from tiermon.ingest.reports import ReportFilter
    from tiermon.ingest.store import Store

    tiermon("--db", str(db), "--source", str(src), "ingest")
    with Store.open(db, read_only=True) as store:
        answers = []
        for most in (reports.PROJECT_LOOKUP_MAX, 0):
            monkeypatch.setattr(reports, "PROJECT_LOOKUP_MAX", most)
            answers.append([
                reports.period_rows(store, ReportFilter(), "day", by="project"),
                reports.model_rows(store, ReportFilter(), by="project"),
                reports.session_rows(store, ReportFilter(), by="project"),
                reports.period_rows(store, ReportFilter(since=date(2030, 1, 1)), "day", by="project"),
            ])
    assert answers[0] == answers[1]
    assert {row["group"] for row in answers[0][0]} == {"/home/dev/shop"}
    assert answers[0][3] == []  # no session in the span: an empty lookup, not a syntax error


def test_monthly_periods_are_months_everywhere(tiermon: Run, src: Path, db: Path) -> None:
    base = ("--db", str(db), "--source", str(src), "report", "monthly")
    assert [r["period"] for r in json.loads(tiermon(*base, "--json").stdout)["monthly"]] == ["2026-03"]
    assert tiermon(*base, "--csv").stdout.splitlines()[1].startswith("2026-03,")
    assert "2026-03 " in tiermon(*base).stdout and "2026-03-01" not in tiermon(*base).stdout


def test_a_line_appended_is_counted_by_the_next_report(tiermon: Run, src: Path, db: Path) -> None:
    """The report a user runs right after Claude Code writes a response shows it; its streamed final copy
    (same message, more output) replaces it rather than counting twice."""
    transcript = src / "projects" / "-home-dev-shop" / f"{S}.jsonl"
    report = ["--db", str(db), "--source", str(src), "report", "daily", "--json", "--timezone", "UTC"]
    before = json.loads(tiermon(*report).stdout)["totals"]
    write(transcript, [assistant(S, "a4", 31 * 3600, "m4", "r4", "claude-opus-4-6", usage(inp=7, out=11, read=13))],
          mode="a")  # fmt: skip
    after = json.loads(tiermon(*report).stdout)["totals"]
    assert after["requests"] == before["requests"] + 1
    assert (after["input_tokens"], after["output_tokens"], after["cache_read_tokens"]) == (
        before["input_tokens"] + 7, before["output_tokens"] + 11, before["cache_read_tokens"] + 13)
    assert after["cost_usd"] == pytest.approx(before["cost_usd"] + (7 * 5 + 11 * 25 + 13 * 0.5) / 1e6, abs=1e-6)
    write(transcript, [assistant(S, "a5", 31 * 3600 + 2, "m4", "r4", "claude-opus-4-6", usage(inp=7, out=40, read=13))],
          mode="a")  # fmt: skip
    final = json.loads(tiermon(*report).stdout)["totals"]
    assert final["requests"] == after["requests"]
    assert final["output_tokens"] == before["output_tokens"] + 40
