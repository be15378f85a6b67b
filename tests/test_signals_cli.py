"""`tiermon alerts`, `tiermon advise` and `tiermon show` through the real CLI entry point."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from test_signals_chat import HAIKU, OPUS, Chat, S, main_file
from tiermon.tui.cli import main

S2 = "7a0b0c0d-aaaa-4bbb-8ccc-000000000002"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """Two sessions: a thrashing Haiku turn after an automatic downgrade, and a simple Opus one."""
    root = tmp_path / "claude"
    c = Chat().prompt("Plan the [bold]cart[/] \u001b[31mnow\u001b[0m").say("plan", model=OPUS)
    c.prompt("implement it").say("on it", model=HAIKU)
    for _ in range(3):
        c.bash("pytest -x", error=True, model=HAIKU)
    c.save(main_file(root))
    s2 = Chat(session=S2, start=86_400 * 2).prompt("what is 2+2?").say("4", model=OPUS)
    s2.save(main_file(root, S2))
    return root


def run(capsys: pytest.CaptureFixture[str], db: Path, source: Path, *args: str) -> str:
    main(["--db", str(db), "--source", str(source), *args])
    return capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], db: Path, source: Path, *args: str) -> Any:
    return json.loads(run(capsys, db, source, *args, "--json"))


def test_alerts_json(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    data = run_json(capsys, db, source, "alerts")
    kinds = sorted(a["kind"] for a in data["alerts"])
    assert kinds == ["model_switch", "thrash"]
    for row in data["alerts"]:
        assert {
            "session_id",
            "kind",
            "severity",
            "start",
            "end",
            "turn",
            "message",
            "figures",
        } <= set(row)
        assert datetime.fromisoformat(row["start"]) <= datetime.fromisoformat(row["end"])
    switch = next(a for a in data["alerts"] if a["kind"] == "model_switch")
    assert switch["severity"] == "warn" and switch["figures"]["cause"] == "automatic"
    only = run_json(capsys, db, source, "alerts", "--kind", "thrash", "--session", S[:8])
    assert [a["kind"] for a in only["alerts"]] == ["thrash"]


def test_alerts_since_and_until_cut_whole_days(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path
) -> None:
    assert (
        run_json(capsys, db, source, "alerts", "--since", "2026-03-03", "--timezone", "UTC")[
            "alerts"
        ]
        == []
    )
    day = run_json(
        capsys,
        db,
        source,
        "alerts",
        "--since",
        "2026-03-02",
        "--until",
        "20260302",
        "--timezone",
        "UTC",
    )
    assert len(day["alerts"]) == 2


def test_advise_json(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    data = run_json(capsys, db, source, "advise")
    assert "does not predict a different conversation" in data["note"]
    got = {
        (a["session_id"], a["kind"], a["from_tier"], a["to_tier"], a["turn"])
        for a in data["advice"]
    }
    assert got == {(S, "escalate", "haiku", "sonnet", 2), (S, "de-escalate", "opus", "haiku", 1),
                   (S2, "de-escalate", "opus", "haiku", 1)}  # fmt: skip
    for a in data["advice"]:
        assert {
            "cost_usd",
            "counterfactual_cost_usd",
            "saving_usd",
            "start",
            "end",
            "reason",
            "figures",
        } <= set(a)
    escalate = run_json(capsys, db, source, "advise", "--kind", "escalate")["advice"]
    assert (
        len(escalate) == 1
        and escalate[0]["saving_usd"] < 0
        and escalate[0]["figures"]["waste_usd"] > 0
    )


def test_tables_for_people(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    out = run(capsys, db, source, "alerts")
    assert "thrash" in out and "model_switch" in out and "warn" in out
    out = run(capsys, db, source, "advise")
    assert "escalate haiku→sonnet" in out and "does not predict a different conversation" in out


def test_show_prints_the_timeline_with_prompts_as_plain_text(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path
) -> None:
    out = run(capsys, db, source, "show", S[:8], "--timezone", "UTC")
    assert "Turns" in out and "Model switches" in out and "Alerts" in out and "Advice" in out
    assert "Plan the [bold]cart[/] now" in out  # markup shown, the escape sequence dropped
    assert "\u001b[31m" not in out
    data = run_json(capsys, db, source, "show", S)
    assert data["session"]["session_id"] == S
    assert [t["turn"] for t in data["turns"]] == [1, 2]
    assert [w["cause"] for w in data["switches"]] == ["automatic"]
    assert {a["kind"] for a in data["alerts"]} == {"model_switch", "thrash"}


def test_bad_input_is_one_line_and_non_zero(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path
) -> None:
    with pytest.raises(SystemExit) as exc:
        run(capsys, db, source, "show", "ffffffff")
    assert exc.value.code == 2  # a bad argument, not a failure
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no session matches" in err
    with pytest.raises(SystemExit) as exc:
        run(capsys, db, source, "alerts", "--since", "2026-03-05", "--until", "2026-03-01")
    assert exc.value.code != 0
    with pytest.raises(SystemExit) as exc:
        run(capsys, db, source, "alerts", "--kind", "nonsense")
    assert exc.value.code != 0


def test_report_session_json_carries_subagents_and_switches(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path
) -> None:
    data = run_json(capsys, db, source, "report", "session")
    row = next(s for s in data["sessions"] if s["session_id"] == S)
    assert [
        (w["from_tier"], w["to_tier"], w["direction"], w["cause"]) for w in row["switches"]
    ] == [("opus", "haiku", "down", "automatic")]
    assert row["subagents"] == []
