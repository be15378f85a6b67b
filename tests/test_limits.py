"""Plan limits end to end: readings in, limit hits in transcripts, `tiermon limits` and `tiermon sessions`."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import transcripts as tx
from conftest import CliResult
from tiermon.ingest import statusfiles
from tiermon.ingest.limits import window_length
from tiermon.ingest.sources.claude.limit_hits import limit_hit
from tiermon.ingest.statusstate import reading_event

Run = Callable[..., CliResult]
S = "99999999-2222-3333-4444-555555555555"


def data_dir() -> Path:
    return Path(os.environ["TIERMON_DATA_DIR"])


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def source(tmp_path: Path, entries: list[dict[str, object]] | None = None) -> Path:
    root = tmp_path / "claude"
    tx.write(root / "projects" / "-home-dev-shop" / f"{S}.jsonl", entries or [
        tx.prompt(S, "u1", 0, "fix the coupon form"),
        tx.assistant(S, "a1", 10, "m1", "r1", "claude-opus-4-6", tx.usage(inp=100, out=200), branch="feat/x"),
    ])  # fmt: skip
    return root


def test_readings_become_limits_and_status_json_is_private(tiermon: Run, tmp_path: Path, db: Path) -> None:
    now = datetime.now(UTC)
    reading = {"agent": "claude-code", "session_id": S, "source": "statusline"}
    statusfiles.append_readings(data_dir(), [
        {**reading, "observed_at": iso(now - timedelta(hours=1)), "window": "5h", "used_bp": 2000,
         "resets_at": iso(now + timedelta(hours=4))},
        {**reading, "observed_at": iso(now - timedelta(hours=1)), "window": "7d", "used_bp": 9900,
         "resets_at": iso(now - timedelta(minutes=1))},  # reset since: void
    ])  # fmt: skip
    with statusfiles.readings_path(data_dir()).open("a") as fh:
        fh.write('{"window": "5h", "used_bp": "lots"}\nnot json\n{"observed_at": "x", "window": "1y"}\n')
    statusfiles.append_readings(data_dir(), [{**reading, "observed_at": iso(now), "window": "5h", "used_bp": 4000,
                                              "resets_at": iso(now + timedelta(hours=4))}])  # fmt: skip
    recent = [tx.prompt(S, "u1", 0, "go"), tx.assistant(S, "a1", 10, "m1", "r1", "claude-opus-4-6", tx.usage())]
    for i, entry in enumerate(recent):
        entry["timestamp"] = iso(now - timedelta(minutes=5 - i))
    root = source(tmp_path, recent)
    out = json.loads(tiermon("--db", str(db), "--source", str(root), "limits", "--json").stdout)
    windows = out["windows"]
    assert [(w["agent"], w["window"], w["used_percent"], w["source"]) for w in windows] == [
        ("claude-code", "5h", 40.0, "statusline")]
    full = datetime.fromisoformat(windows[0]["projected_full_at"].replace("Z", "+00:00"))
    assert now + timedelta(hours=2, minutes=59) < full < now + timedelta(hours=3, minutes=1)  # 20 %/h, 60 % left
    state = statusfiles.state_path(data_dir())
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert S in json.loads(state.read_text())["sessions"]
    again = json.loads(tiermon("--db", str(db), "--source", str(root), "limits", "--json").stdout)
    assert again == out  # re-reading the file adds nothing


def test_no_readings_is_unknown_not_zero(tiermon: Run, tmp_path: Path, db: Path) -> None:
    result = tiermon("--db", str(db), "--source", str(source(tmp_path)), "limits")
    assert "No plan-limit readings yet" in result.stdout and "0 %" not in result.stdout
    out = json.loads(tiermon("--db", str(db), "--source", str(source(tmp_path)), "limits", "--json").stdout)
    assert out == {"windows": []}


def test_limit_hit_in_a_transcript(tiermon: Run, tmp_path: Path, db: Path) -> None:
    at = datetime.now(UTC).replace(microsecond=0)
    hit = tx.assistant(S, "a2", 0, "m2", "r2", "<synthetic>", tx.usage(inp=0, out=0),
                       block={"type": "text", "text": "You've hit your session limit · resets 11:59pm (UTC)"})
    hit.update(isApiErrorMessage=True, error="rate_limit", timestamp=iso(at))
    go = tx.prompt(S, "u1", 0, "go")
    go["timestamp"] = iso(at)
    root = source(tmp_path, [go, hit])
    out = json.loads(tiermon("--db", str(db), "--source", str(root), "limits", "--json").stdout)
    assert [(w["window"], w["used_percent"], w["source"]) for w in out["windows"]] == [("5h", 100.0, "transcript")]
    assert out["windows"][0]["resets_at"].endswith("T23:59:00Z")


def test_limit_hit_messages() -> None:
    at = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    assert limit_hit("You've hit your session limit · resets 3:45pm (Europe/Berlin)", at) == (
        "5h", 10_000, "2026-12-03T14:45:00Z")
    assert limit_hit("You've hit your weekly limit · resets Dec 9, 3pm (UTC)", at) == ("7d", 10_000, "2026-12-09T15:00:00Z")
    assert limit_hit("5-hour limit reached ∙ resets 1pm (UTC)", at) == ("5h", 10_000, "2026-12-04T13:00:00Z")
    assert limit_hit("Claude AI usage limit reached|1780000000", at) == ("5h", 10_000, "2026-05-28T20:26:40Z")
    assert limit_hit("API Error: 500 Internal Server Error", at) is None
    assert limit_hit("You've hit your limit · resets 99:99pm", at) is None


def test_hostile_readings_are_refused() -> None:
    good = {"observed_at": "2026-12-03T10:00:00Z", "resets_at": "2026-12-03T12:00:00Z", "window": "5h", "used_bp": 10}
    assert reading_event(good) is not None
    for bad in ({**good, "used_bp": True}, {**good, "used_bp": -1}, {**good, "window": "\x1b[2J"},
                {**good, "resets_at": "soon"}, {**good, "used_bp": 10**9}):  # fmt: skip
        assert reading_event(bad) is None
    row = reading_event({**good, "agent": "claude\x1b[31m", "session_id": "s\x07"})
    assert row is not None and "\x1b" not in row[-1] and "\x07" not in str(row[3])


def test_window_lengths() -> None:
    assert window_length("5h") == timedelta(hours=5) and window_length("7d") == timedelta(days=7)
    assert window_length("90m") == timedelta(minutes=90) and window_length("week") is None


def test_sessions_command(tiermon: Run, tmp_path: Path, db: Path) -> None:
    base = ("--db", str(db), "--source", str(source(tmp_path)))
    rows = json.loads(tiermon(*base, "sessions", "--json").stdout)["sessions"]
    assert [(r["session_id"], r["project"], r["branch"], r["first_prompt"]) for r in rows] == [
        (S, "/home/dev/shop", "feat/x", "fix the coupon form")]
    assert rows[0]["start"].endswith("Z") and rows[0]["end"].endswith("Z")
    assert json.loads(tiermon(*base, "sessions", "--search", "COUPON", "--json").stdout)["sessions"]
    assert not json.loads(tiermon(*base, "sessions", "--search", "50%_off", "--json").stdout)["sessions"]
    assert not json.loads(tiermon(*base, "sessions", "--model", "haiku", "--json").stdout)["sessions"]
    assert not json.loads(tiermon(*base, "sessions", "--agent", "api", "--json").stdout)["sessions"]
    assert "1 session, newest first" in tiermon(*base, "sessions").stdout
    bad = tiermon(*base, "sessions", "--since", "yesterday", check=False)
    assert bad.returncode == 2

