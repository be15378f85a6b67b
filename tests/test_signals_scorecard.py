"""The model scorecard and the policy replay (SPEC §4.10, §4.11) against hand-computed figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from test_signals_chat import HAIKU, OPUS, Chat, S, main_file
from tiermon.ingest.scorecard import wilson
from tiermon.tui.cli import main

S2 = "5e551011-aaaa-4bbb-8ccc-000000000002"
OPUS_TURN = (10 * 5 + 100 * 25 + 19_990 * 0.5) / 1e6
"""One Opus 4.6 response of 10 input, 100 output and 19,990 cache-read tokens: $0.012545."""
HAIKU_TURN = (10 * 1 + 100 * 5 + 19_990 * 0.10) / 1e6
"""The same tokens on Haiku 4.5 (the small rung's reference): $0.002509."""
SONNET_TURN = (10 * 3 + 100 * 15 + 19_990 * 0.30) / 1e6
"""... on Sonnet 4.5 (the mid rung's reference): $0.007527."""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "claude"
    c = Chat(model=HAIKU).prompt("fix the flaky test")
    for _ in range(3):
        c.bash("pytest -x", error=True)
    c.say("stuck").prompt("look at the fixture").bash("cat conftest.py")
    c.say("found it").prompt("thanks").say("you're welcome")
    c.save(main_file(root))
    o = Chat(S2, model=OPUS, start=10_000).prompt("what is this repo?").say("A shop.")
    o.prompt("and the tests?").say("pytest.")
    o.save(main_file(root, S2))
    return root


def run_json(capsys: pytest.CaptureFixture[str], db: Path, source: Path, *args: str) -> Any:
    main(["--db", str(db), "--source", str(source), *args, "--json"])
    return json.loads(capsys.readouterr().out)


def test_wilson_against_hand_computed_values() -> None:
    # p = 1/3, z = 1.96: centre (p + z²/2n)/(1 + z²/n) = 0.42692, half-width 0.36543.
    assert wilson(1, 3) == pytest.approx((0.061492, 0.792340), abs=1e-6)
    assert wilson(0, 8) == pytest.approx((0.0, 0.324408), abs=1e-6)  # 0 % is not "certainly never"
    assert wilson(5, 5) == pytest.approx((0.565518, 1.0), abs=1e-6)
    assert wilson(0, 0) is None


def test_scorecard_rates_counts_and_intervals(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    data = run_json(capsys, db, source, "scorecard")
    rows = {r["model"]: r for r in data["models"]}
    haiku = rows[HAIKU]
    assert (haiku["turns"], haiku["rung"], haiku["vendor"], haiku["agent"]) == (3, "small", "anthropic", "claude-code")
    assert haiku["too_few_turns"] is True and haiku["tool_calls_per_turn"] == pytest.approx(4 / 3, abs=0.01)
    failed = haiku["rates"]["failed_per_100_calls"]  # three failed attempts over four tool calls
    assert (failed["count"], failed["base"], failed["per_100"]) == (3, 4, 75.0)
    assert (failed["low"], failed["high"]) == (pytest.approx(100 * wilson(3, 4)[0], abs=0.01),  # type: ignore[index]
                                               pytest.approx(100 * wilson(3, 4)[1], abs=0.01))  # type: ignore[index]  # fmt: skip
    struggle = haiku["rates"]["struggle_per_100_turns"]  # the thrash turn, one of three
    assert (struggle["count"], struggle["base"], struggle["low"], struggle["high"]) == (1, 3, 6.15, 79.23)
    opus = rows[OPUS]
    assert opus["turns"] == 2 and opus["cost_per_turn_median"] == pytest.approx(OPUS_TURN, abs=1e-6)
    assert opus["rates"]["failed_per_100_calls"]["per_100"] is None  # no tool calls: nothing to rate


def test_scorecard_by_rung_and_the_table(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    rows = run_json(capsys, db, source, "scorecard", "--by", "rung")["models"]
    assert {(r["rung"], r["model"], r["turns"]) for r in rows} == {("small", "*", 3), ("large", "*", 2)}
    main(["--db", str(db), "--source", str(source), "scorecard"])
    out = capsys.readouterr().out
    assert "haiku-4-5 *" in out and "75 (30–95)" in out and "3/4" in out and "Wilson" in out


def test_replay_totals_against_hand_priced_turns(capsys: pytest.CaptureFixture[str], db: Path, source: Path) -> None:
    data = run_json(capsys, db, source, "replay", "--session", S2, "--policy", "all-small",
                    "--policy", "all-mid", "--policy", "all-large", "--policy", "cheapest-first")  # fmt: skip
    small, mid, large, cheapest = data["policies"]
    assert small["actual_usd"] == pytest.approx(2 * OPUS_TURN, abs=1e-6)
    assert small["replayed_usd"] == pytest.approx(2 * HAIKU_TURN, abs=1e-6)
    assert (small["turns"], small["turns_repriced"], small["turns_moved_down"]) == (2, 2, 2)
    assert mid["replayed_usd"] == pytest.approx(2 * SONNET_TURN, abs=1e-6)
    assert large["replayed_usd"] == pytest.approx(2 * OPUS_TURN, abs=1e-6) and large["turns_repriced"] == 0
    assert cheapest["replayed_usd"] == pytest.approx(2 * HAIKU_TURN, abs=1e-6)  # neither turn struggled
    assert "re-pricing" in data["note"]


def test_replay_predicts_struggle_from_the_measured_rung(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path
) -> None:
    [all_small] = run_json(capsys, db, source, "replay", "--policy", "all-haiku")["policies"]
    predicted = all_small["predicted_struggle"]["small"]
    # The two Opus turns move down to the small rung, where 1 of 3 measured turns struggled.
    assert predicted["turns_moved_down"] == 2 and predicted["expected_struggling_turns"] == pytest.approx(0.7)
    assert (predicted["struggle_rate"]["count"], predicted["struggle_rate"]["base"]) == (1, 3)


def test_cheapest_first_escalates_the_struggling_turn_one_rung(
    capsys: pytest.CaptureFixture[str], db: Path, source: Path
) -> None:
    [cheapest] = run_json(capsys, db, source, "replay", "--session", S, "--policy", "cheapest-first")["policies"]
    assert (cheapest["turns_moved_up"], cheapest["turns_moved_down"]) == (1, 0)
