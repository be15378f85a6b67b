"""Each signal of SPEC §4 on hand-made transcripts that contain it, and on near-misses that must not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_signals_chat import (
    HAIKU,
    OPUS,
    SONNET,
    Chat,
    S,
    agent_file,
    ingest,
    main_file,
    read,
    ts,
    write_meta,
)
from tiermon.ingest.config import Thresholds
from tiermon.ingest.pricing import load_price_table
from tiermon.ingest.signals import views
from tiermon.ingest.signals.churn import is_go_ahead
from tiermon.ingest.store import Store

S2 = "5e551011-aaaa-4bbb-8ccc-000000000002"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "claude"


def alerts(db: Path, kind: str | None = None) -> list[dict[str, Any]]:
    return sorted(read(db, views.list_alerts, kind=kind), key=lambda a: a["start"])


def advice(db: Path, kind: str | None = None) -> list[dict[str, Any]]:
    return sorted(read(db, views.list_advice, kind=kind), key=lambda a: a["turn"])


def switches(db: Path) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = read(db, views.session_switches, [S]).get(S, [])
    return found


# -- 1. model switches ------------------------------------------------------------------


def test_automatic_downgrade_is_a_warn_alert(root: Path, db: Path) -> None:
    c = (
        Chat()
        .prompt("build the cart")
        .say("done", model=OPUS)
        .prompt("now the checkout")
        .say("ok", model=HAIKU)
    )
    c.save(main_file(root))
    ingest(root, db)
    [sw] = switches(db)
    assert (sw["from_model"], sw["to_model"], sw["cause"], sw["direction"]) == (
        OPUS,
        HAIKU,
        "automatic",
        "down",
    )
    assert (sw["from_tier"], sw["to_tier"], sw["turn"]) == ("opus", "haiku", 2)
    [alert] = alerts(db, "model_switch")
    assert alert["severity"] == "warn" and alert["turn"] == 2
    assert alert["figures"]["cause"] == "automatic" and "downgraded" in alert["message"]


def test_a_switch_across_a_model_command_is_not_automatic(root: Path, db: Path) -> None:
    c = (
        Chat()
        .prompt("plan it")
        .say("plan", model=OPUS)
        .model_command("haiku")
        .prompt("go")
        .say("ok", model=HAIKU)
    )
    c.save(main_file(root))
    ingest(root, db)
    [sw] = switches(db)
    assert sw["cause"] == "command" and sw["direction"] == "down" and "haiku" in sw["detail"]
    [alert] = alerts(db, "model_switch")
    assert alert["severity"] == "info"


def test_set_model_stdout_alone_names_the_command(root: Path, db: Path) -> None:
    c = Chat(model=SONNET).prompt("a").say("b")
    c.user(
        "<local-command-stdout>Set model to \u001b[1mOpus 4.6 (1M context)\u001b[22m</local-command-stdout>"
    )
    c.prompt("c").say("d", model=OPUS).save(main_file(root))
    ingest(root, db)
    [sw] = switches(db)
    assert (sw["cause"], sw["direction"]) == ("command", "up")


def test_a_skill_with_a_model_switches_with_cause_skill(root: Path, db: Path) -> None:
    c = Chat().prompt("look up the docs").say("checking", model=OPUS)
    c.skill("elixir:hex-docs-search", HAIKU, model=OPUS)
    c.say("found it", model=HAIKU).save(main_file(root))
    ingest(root, db)
    [sw] = switches(db)
    assert sw["cause"] == "skill" and "elixir:hex-docs-search" in sw["detail"]
    assert alerts(db, "model_switch")[0]["severity"] == "info"


def test_same_model_with_and_without_date_is_no_switch_and_sidechains_do_not_count(
    root: Path, db: Path
) -> None:
    c = Chat(model="claude-haiku-4-5").prompt("a").say("b").say("c", model=HAIKU)
    c.task("a1b2c3d", "Explore", model=OPUS)
    c.say("d", model="claude-haiku-4-5").save(main_file(root))
    Chat(model=OPUS, agent="a1b2c3d", start=12).prompt("explore").say("found").save(
        agent_file(root, "a1b2c3d")
    )
    ingest(root, db)
    assert switches(db) == []


def test_same_tier_switch(root: Path, db: Path) -> None:
    Chat(model="claude-sonnet-4-20250514").prompt("a").say("b").say("c", model=SONNET).save(
        main_file(root)
    )
    ingest(root, db)
    [sw] = switches(db)
    assert sw["direction"] == "same-tier" and sw["cause"] == "automatic"
    assert alerts(db, "model_switch")[0]["severity"] == "info"


# -- 2. subagents ---------------------------------------------------------------------------


def test_subagents_are_typed_and_priced_per_agent_and_model(root: Path, db: Path) -> None:
    c = Chat().prompt("investigate")
    c.task("abc1234", "general-purpose", "Check versions", model="haiku")
    c.task("def5678", "Explore", "Find callers")
    c.say("done").save(main_file(root))
    sub = Chat(model=HAIKU, agent="abc1234", start=8).prompt("Check versions of x")
    sub.say("a").say("b").say("c", model=SONNET).save(agent_file(root, "abc1234"))
    Chat(model=HAIKU, agent="def5678", start=14).prompt("Find callers").say("x").save(
        agent_file(root, "def5678")
    )
    write_meta(root, "def5678", "my-explorer")
    Chat(model=HAIKU, agent="a0a0a0a", start=-30).prompt("Warmup").say("ready").save(
        agent_file(root, "a0a0a0a")
    )
    Chat(model=OPUS, agent="acompact-1a2b3c", start=40).prompt("Summarise").say("summary").save(
        agent_file(root, "acompact-1a2b3c"))  # fmt: skip
    ingest(root, db)
    rows = read(db, views.session_subagents, [S])[S]
    got = {(r["agent_id"], r["model"]): (r["agent_type"], r["requests"]) for r in rows}
    assert got == {
        ("abc1234", HAIKU): ("general-purpose", 2),
        ("abc1234", SONNET): ("general-purpose", 1),
        ("def5678", HAIKU): ("my-explorer", 1),  # meta.json wins over the Task's subagent_type
        ("a0a0a0a", HAIKU): ("warmup", 1),
        ("acompact-1a2b3c", OPUS): ("compact", 1),
    }
    first = next(r for r in rows if r["agent_id"] == "abc1234" and r["model"] == HAIKU)
    assert first["tier"] == "haiku" and first["cost_usd"] > 0 and first["input_tokens"] == 20
    assert first["parent_tool_use_id"] and first["description"] == "Check versions"
    summary = read(db, views.haiku_subagent_summary, [S])
    by_type = {r["agent_type"]: r for r in summary}
    assert set(by_type) == {"general-purpose", "my-explorer", "warmup"}
    assert by_type["general-purpose"]["calls"] == 2
    session_cost = by_type["warmup"]["session_cost_usd"]
    assert by_type["warmup"]["share"] == pytest.approx(by_type["warmup"]["cost_usd"] / session_cost)


def test_inline_sidechains_are_tied_to_their_task_call(root: Path, db: Path) -> None:
    """1.0.x: sidechain entries in the session file, no agentId; the parser names them by root."""
    c = Chat(model=SONNET, version="1.0.108").prompt("audit")
    tid = c.tool(
        "Task",
        {
            "description": "Audit views",
            "prompt": "Audit the views",
            "subagent_type": "general-purpose",
        },
    )
    result = c.lines.pop()  # the Task result comes after the sidechain
    side = Chat(model=SONNET, start=c.t, version="1.0.108")
    side.tag = "side"
    side.prompt("Audit the views").say("found 3 issues")
    first, reply = side.lines
    first.update(isSidechain=True, parentUuid=None, uuid="side0001-root")
    reply.update(isSidechain=True, parentUuid="side0001-root", uuid="side0002")
    c.lines += [first, reply]
    c.t = side.t
    result["timestamp"] = ts(c.tick())
    c.lines.append(result)
    c.say("fixed").save(main_file(root))
    ingest(root, db)
    [agent] = read(db, views.session_subagents, [S])[S]
    assert agent["agent_id"].startswith("side-") and agent["agent_type"] == "general-purpose"
    assert agent["parent_tool_use_id"] == tid and agent["description"] == "Audit views"


# -- 3. question churn -------------------------------------------------------------------------


@pytest.mark.parametrize("reply", ["yes", "ok", "Sure!", "go ahead", "continue", "proceed", "do it", "y",
                                   "yes, go ahead", "ok please proceed", "👍"])  # fmt: skip
def test_bare_go_aheads(reply: str) -> None:
    assert is_go_ahead(reply, 4)


@pytest.mark.parametrize("reply", ["yes but use postgres", "no", "use sqlite instead", "ok, and add tests too please",
                                   "what do you mean?", "", "yes 42"])  # fmt: skip
def test_replies_that_are_not_bare_go_aheads(reply: str) -> None:
    assert not is_go_ahead(reply, 4)


def _asking_session(replies: list[str], *, gap_turns: int = 0) -> Chat:
    c = Chat(model=HAIKU).prompt("refactor the billing module")
    for i, reply in enumerate(replies):
        c.say(f"I found step {i}. **Shall I proceed?**\n")
        c.prompt(reply)
        for _ in range(gap_turns):
            c.say("working on it.").prompt("fine, next please rename the module")
    return c.say("All done.")


def test_three_needless_asks_within_ten_turns_raise_question_churn(root: Path, db: Path) -> None:
    _asking_session(["yes", "ok", "go ahead"]).save(main_file(root))
    ingest(root, db)
    [alert] = alerts(db, "question_churn")
    assert alert["severity"] == "warn" and alert["turn"] == 1
    assert alert["figures"]["needless_asks"] == 3 and alert["figures"]["turns"] == [1, 2, 3]
    turns = read(db, views.session_timeline, S)["turns"]
    assert [t["needless_ask"] for t in turns] == [True, True, True, False]


def test_an_ask_answered_with_an_instruction_is_not_needless(root: Path, db: Path) -> None:
    _asking_session(["yes", "no, keep the old name and add a deprecation shim", "ok"]).save(
        main_file(root)
    )
    ingest(root, db)
    assert alerts(db, "question_churn") == []
    turns = read(db, views.session_timeline, S)["turns"]
    assert [t["asks"] for t in turns[:3]] == [True, True, True]
    assert [t["needless_ask"] for t in turns[:3]] == [True, False, True]


def test_needless_asks_spread_over_more_than_ten_turns_do_not_churn(root: Path, db: Path) -> None:
    _asking_session(["yes", "ok", "go ahead"], gap_turns=4).save(main_file(root))
    ingest(root, db)
    assert alerts(db, "question_churn") == []


def test_ask_user_question_tool_counts_as_an_ask(root: Path, db: Path) -> None:
    c = Chat(model=HAIKU).prompt("set up ci")
    for reply in ("yes", "yes", "ok"):
        c.ask()
        c.say("Noted.")
        c.prompt(reply)
    c.say("done").save(main_file(root))
    ingest(root, db)
    assert alerts(db, "question_churn")[0]["figures"]["needless_asks"] == 3


# -- 4. command thrash -----------------------------------------------------------------------


def test_same_bash_command_three_times_within_eight_calls_is_a_thrash(root: Path, db: Path) -> None:
    c = Chat(model=HAIKU).prompt("make the tests pass")
    c.bash("pytest -x  tests/test_cart.py", error=True)
    c.read("src/cart.py")
    c.bash("pytest -x tests/test_cart.py", error=True)
    c.tool("Edit", {"file_path": "src/cart.py"})
    c.bash("pytest   -x tests/test_cart.py")
    c.say("green").save(main_file(root))
    ingest(root, db)
    [alert] = alerts(db, "thrash")
    f = alert["figures"]
    assert f["repeats"] == 3 and f["command"] == "pytest -x tests/test_cart.py"
    assert f["tool_calls"] == 5 and f["responses"] == 5 and f["cost_usd"] > 0
    assert alert["severity"] == "warn" and alert["agent_id"] is None and alert["turn"] == 1
    assert alert["start"] < alert["end"]


def test_two_runs_of_a_command_are_not_a_thrash(root: Path, db: Path) -> None:
    c = Chat().prompt("check")
    c.bash("make test")
    c.read("Makefile")
    c.bash("make test")
    c.say("fine").save(main_file(root))
    ingest(root, db)
    assert alerts(db, "thrash") == []


def test_three_runs_spread_over_more_than_eight_calls_are_not_a_thrash(
    root: Path, db: Path
) -> None:
    c = Chat().prompt("check")
    for i in range(3):
        c.bash("make test")
        for j in range(4):
            c.read(f"src/file{i}{j}.py")
    c.say("fine").save(main_file(root))
    ingest(root, db)
    assert alerts(db, "thrash") == []


def test_three_consecutive_failing_results_are_a_thrash(root: Path, db: Path) -> None:
    c = Chat(model=HAIKU).prompt("deploy")
    c.bash("kubectl apply -f a.yaml", error=True)
    c.tool("Edit", {"file_path": "a.yaml"}, error=True)
    c.bash("kubectl apply -f b.yaml", error=True)
    c.say("stuck").save(main_file(root))
    ingest(root, db)
    [alert] = alerts(db, "thrash")
    assert alert["figures"]["failed_attempts"] == 3 and alert["figures"]["repeats"] == 0


def test_errors_broken_by_a_success_are_not_a_thrash(root: Path, db: Path) -> None:
    c = Chat().prompt("deploy")
    c.bash("a", error=True)
    c.bash("b", error=True)
    c.bash("c")
    c.bash("d", error=True)
    c.say("ok").save(main_file(root))
    ingest(root, db)
    assert alerts(db, "thrash") == []


def test_thrash_inside_a_subagent_is_on_its_chain(root: Path, db: Path) -> None:
    c = Chat().prompt("investigate")
    c.task("beef123", "general-purpose")
    c.say("done").save(main_file(root))
    sub = Chat(model=HAIKU, agent="beef123", start=3).prompt("look")
    for _ in range(3):
        sub.bash("npm test", error=False)
    sub.say("done").save(agent_file(root, "beef123"))
    ingest(root, db)
    [alert] = alerts(db, "thrash")
    assert alert["agent_id"] == "beef123" and "beef123" in alert["message"]


# -- 5. context growth and compactions ---------------------------------------------------------


def test_context_at_eighty_percent_of_the_compaction_point_raises_one_alert_per_run(
    root: Path, db: Path
) -> None:
    """Without auto-compactions to learn from, the limit is 200k − 33k = 167k; 80 % of it is 133.6k."""
    c = Chat(model=SONNET).prompt("read everything")
    for ctx in (100_000, 150_000, 161_000, 166_000, 120_000, 165_000):
        c.say("more", ctx=ctx)
    c.save(main_file(root))
    ingest(root, db)
    found = alerts(db, "context_high")
    assert len(found) == 2
    first = max(found, key=lambda a: a["figures"]["peak_tokens"])
    f = first["figures"]
    assert f["peak_tokens"] == 166_000 and f["context_window"] == 200_000 and f["context_limit"] == 167_000
    assert f["responses"] == 3 and first["severity"] == "warn" and f["limit_source"] == "window-buffer"


def test_just_below_eighty_percent_of_the_limit_does_not_alert(root: Path, db: Path) -> None:
    Chat(model=SONNET).prompt("read").say("a", ctx=133_599).save(main_file(root))
    ingest(root, db)
    assert alerts(db, "context_high") == []


def test_every_compaction_is_recorded_with_trigger_and_tokens(root: Path, db: Path) -> None:
    c = (
        Chat()
        .prompt("work")
        .say("a", ctx=150_000)
        .compact(148_000, "auto")
        .prompt("go on")
        .say("b", ctx=30_000)
    )
    c.compact(60_000, "manual").save(main_file(root))
    ingest(root, db)
    found = alerts(db, "compaction")
    assert [(a["figures"]["trigger"], a["figures"]["pre_tokens"]) for a in found] == [
        ("auto", 148_000),
        ("manual", 60_000),
    ]
    assert found[0]["figures"]["post_tokens"] == 30_000 and found[0]["severity"] == "info"
    timeline = read(db, views.session_timeline, S)
    assert [c["pre_tokens"] for c in timeline["compactions"]] == [148_000, 60_000]


# -- 6. re-read drift ---------------------------------------------------------------------------


def test_the_same_file_read_three_times_is_reread_drift(root: Path, db: Path) -> None:
    c = Chat().prompt("fix it")
    for _ in range(3):
        c.read("/repo/src/app.py")
        c.tool("Edit", {"file_path": "/repo/src/app.py"})
    c.save(main_file(root))
    ingest(root, db)
    [alert] = alerts(db, "reread")
    assert alert["figures"]["reads"] == 3 and alert["figures"]["file_path"] == "/repo/src/app.py"


def test_reads_split_by_a_compaction_are_not_drift(root: Path, db: Path) -> None:
    c = Chat().prompt("fix it")
    c.read("/repo/src/app.py")
    c.read("/repo/src/app.py")
    c.compact()
    c.prompt("continue")
    c.read("/repo/src/app.py")
    c.save(main_file(root))
    ingest(root, db)
    assert alerts(db, "reread") == []


# -- 8. cache rebuilds ------------------------------------------------------------------------


def test_a_large_write_after_the_cache_expired_is_a_rebuild(root: Path, db: Path) -> None:
    c = (
        Chat(model=SONNET)
        .prompt("start")
        .say("a", ctx=80_000, w5=80_000)
        .say("b", ctx=80_500, w5=500)
    )
    c.idle(10 * 60).prompt("back").say("c", ctx=81_000, w5=81_000).save(main_file(root))
    ingest(root, db)
    [alert] = alerts(db, "cache_rebuild")
    f = alert["figures"]
    assert (
        f["cache_write_tokens"] == 81_000
        and f["cache_lifetime_seconds"] == 300
        and f["idle_seconds"] > 600
    )
    assert f["rebuild_cost_usd"] == pytest.approx(81_000 * 3.75 / 1e6)
    assert f["read_cost_usd"] == pytest.approx(81_000 * 0.30 / 1e6)
    assert alert["turn"] == 2


@pytest.mark.parametrize("case", ["one-hour cache", "small write", "compaction between"])
def test_idle_gaps_that_are_not_rebuilds(root: Path, db: Path, case: str) -> None:
    hour = case == "one-hour cache"
    c = (
        Chat(model=SONNET)
        .prompt("start")
        .say("a", ctx=80_000, w5=0 if hour else 80_000, w1h=80_000 if hour else 0)
    )
    c.idle(20 * 60)
    if case == "compaction between":
        c.compact()
    c.prompt("back").say("c", ctx=81_000, w5=40_000 if case == "small write" else 81_000)
    c.save(main_file(root))
    ingest(root, db)
    assert alerts(db, "cache_rebuild") == []


# -- API errors ---------------------------------------------------------------------------------


def test_synthetic_error_rows_are_api_error_alerts_not_responses(root: Path, db: Path) -> None:
    c = Chat().prompt("go").api_error().api_error("API Error: 529 overloaded").say("done")
    c.idle(3600).prompt("again").api_error().save(main_file(root))
    ingest(root, db)
    found = alerts(db, "api_error")
    assert [a["figures"]["count"] for a in found] == [2, 1]
    assert found[0]["severity"] == "warn" and "Request was aborted" in found[0]["message"]
    assert read(db, views.health)["api_errors"] == 3
    models = {m["model"] for m in read(db, views.session_timeline, S)["session"]["model_breakdown"]}
    assert models == {OPUS}


# -- 7. advice ----------------------------------------------------------------------------------


def test_a_haiku_turn_that_thrashes_is_advised_to_escalate(root: Path, db: Path) -> None:
    c = Chat(model=HAIKU).prompt("make the tests pass")
    for _ in range(3):
        c.bash("pytest -x", error=True)
    c.say("still failing").save(main_file(root))
    ingest(root, db)
    [adv] = advice(db, "escalate")
    assert (adv["from_tier"], adv["to_tier"], adv["turn"]) == ("haiku", "sonnet", 1)
    prices = load_price_table()
    ref = prices.reference("sonnet")
    assert ref is not None and adv["to_model"] == ref.model
    # Every response: input 10, output 100, cache read 19,990.
    one_haiku = prices.cost(HAIKU, input_tokens=10, output_tokens=100, cache_read=19_990)
    one_ref = prices.cost(ref.model, input_tokens=10, output_tokens=100, cache_read=19_990)
    assert one_haiku and one_ref
    assert adv["cost_usd"] == pytest.approx(4 * one_haiku, abs=1e-6)
    assert adv["counterfactual_cost_usd"] == pytest.approx(4 * one_ref, abs=1e-6)
    assert adv["saving_usd"] == pytest.approx(
        adv["cost_usd"] - adv["counterfactual_cost_usd"], abs=1e-6
    )
    assert adv["saving_usd"] < 0
    f = adv["figures"]
    assert f["waste_usd"] == pytest.approx(3 * one_haiku, abs=1e-6) and f["thrash"]["repeats"] == 3
    assert "does not predict a different conversation" in f["note"]
    assert adv["start"] <= adv["end"] and "pytest -x" in adv["reason"]


def test_needless_asks_on_haiku_are_advised_to_escalate(root: Path, db: Path) -> None:
    _asking_session(["yes", "ok"]).save(main_file(root))
    ingest(root, db)
    [adv] = advice(db, "escalate")
    assert adv["turn"] == 2 and adv["figures"]["needless_asks"] == 2


def test_a_simple_opus_turn_is_advised_to_de_escalate(root: Path, db: Path) -> None:
    c = Chat(model=OPUS).prompt("what does this function return?")
    c.read("/repo/a.py")
    c.say("It returns None.", out=300).prompt("now refactor the module").say("ok")
    for i in range(3):
        c.tool("Edit", {"file_path": f"/repo/m{i}.py"})
    c.save(main_file(root))
    ingest(root, db)
    [adv] = advice(db, "de-escalate")
    assert (adv["from_tier"], adv["to_tier"], adv["turn"]) == ("opus", "haiku", 1)
    assert adv["saving_usd"] > 0
    assert adv["counterfactual_cost_usd"] == pytest.approx(
        adv["cost_usd"] - adv["saving_usd"], abs=1e-6
    )
    assert (
        adv["figures"]["tool_calls"] == 1
        and adv["figures"]["counterfactual_model"] == "claude-haiku-4-5"
    )


@pytest.mark.parametrize("spoil", ["tool error", "long output", "big context"])
def test_turns_that_are_not_simple_get_no_de_escalation(root: Path, db: Path, spoil: str) -> None:
    c = Chat(model=OPUS).prompt("quick question")
    c.bash("ls", error=spoil == "tool error")
    c.say(
        "answer",
        out=5_000 if spoil == "long output" else 100,
        ctx=60_000 if spoil == "big context" else 20_000,
    )
    c.save(main_file(root))
    ingest(root, db)
    assert advice(db, "de-escalate") == []


# -- thresholds, timeline, health ----------------------------------------------------------------


def test_thresholds_come_from_the_config_file(root: Path, db: Path, isolated_env: Path) -> None:
    config = isolated_env / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[thresholds]\nthrash_repeats = 4\n")
    c = Chat().prompt("x")
    for _ in range(3):
        c.bash("make")
    c.save(main_file(root))
    ingest(root, db)
    assert alerts(db, "thrash") == []
    config.write_text("[thresholds]\nthrash_repeats = 3\n")
    ingest(root, db)  # nothing new to read: the changed thresholds alone recompute the signals
    assert len(alerts(db, "thrash")) == 1


def test_session_timeline_for_people_and_scripts(root: Path, db: Path) -> None:
    c = Chat().prompt("first [bold]task[/]").say("ok", ctx=30_000, out=50)
    c.skill("docs", HAIKU)
    c.say("found", model=HAIKU).prompt("second").say("done", model=HAIKU)
    c.save(main_file(root))
    ingest(root, db)
    t = read(db, views.session_timeline, S[:8])
    assert set(t) >= {
        "session",
        "turns",
        "responses",
        "switches",
        "subagents",
        "compactions",
        "alerts",
        "advice",
    }
    s = t["session"]
    assert s["session_id"] == S and s["project"] == "/home/dev/shop" and s["git_branch"] == "main"
    assert s["start"] <= s["end"] and s["cost_usd"] > 0 and set(s["models"]) == {OPUS, HAIKU}
    assert [x["turn"] for x in t["turns"]] == [1, 2]
    first = t["turns"][0]
    assert first["prompt"] == "first [bold]task[/]" and first["models"] == [OPUS, HAIKU]
    assert first["responses"] == 3 and first["tool_calls"] == 1 and first["max_context"] == 30_000
    assert first["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in t["responses"][:3]))
    assert [r["model"] for r in t["responses"]] == [OPUS, OPUS, HAIKU, HAIKU]
    assert t["responses"][0]["context_tokens"] == 30_000 and t["responses"][0]["tier"] == "opus"
    assert [sw["cause"] for sw in t["switches"]] == ["skill"]
    assert [a["kind"] for a in t["alerts"]] == ["model_switch"]


def test_unknown_session_is_a_clear_error(root: Path, db: Path) -> None:
    Chat().prompt("a").say("b").save(main_file(root))
    Chat(session=S2).prompt("a").say("b").save(main_file(root, S2))
    ingest(root, db)
    with pytest.raises(views.SessionNotFound, match="no session"):
        read(db, views.session_timeline, "ffff")
    with pytest.raises(views.SessionNotFound, match="several"):
        read(db, views.session_timeline, "5e551011")


def test_health_counts_what_could_not_be_accounted_for(root: Path, db: Path) -> None:
    c = Chat(model="claude-fable-9").prompt("a").say("b")
    c.lines.append({"type": "mystery-entry", "sessionId": S, "version": "9.9.9"})
    c.save(main_file(root))
    with main_file(root).open("a") as fh:
        fh.write('{"type": "user", "broken\n')
    Chat(session=S2).prompt("a").say("b").api_error().save(main_file(root, S2))
    ingest(root, db)
    h = read(db, views.health)
    assert h["unknown_entry_types"] == [{"entry_type": "mystery-entry", "version": "9.9.9", "n": 1}]
    assert [m["model"] for m in h["unpriced_models"]] == ["claude-fable-9"]
    assert 0 < h["unpriced_token_share"] < 1
    assert h["quarantined"] == 1 and h["quarantine_latest"][0]["file_path"].endswith(f"{S}.jsonl")
    assert h["files_tailed"] == 2 and h["api_errors"] == 1 and "9.9.9" in h["versions"]


def test_filters_of_the_lists(root: Path, db: Path) -> None:
    Chat().prompt("a").say("b", model=OPUS).say("c", model=HAIKU).save(main_file(root))
    Chat(session=S2, start=86_400 * 3).prompt("a").say("b", model=OPUS).say("c", model=HAIKU).save(
        main_file(root, S2)
    )
    ingest(root, db)
    everything = read(db, views.list_alerts)
    assert [a["session_id"] for a in everything] == [S2, S]  # newest first
    assert [a["session_id"] for a in read(db, views.list_alerts, session=S2)] == [S2]
    day0 = everything[1]["start"].date()
    assert [a["session_id"] for a in read(db, views.list_alerts, until=day0)] == [S]
    assert [a["session_id"] for a in read(db, views.list_alerts, since=everything[0]["start"])] == [
        S2
    ]
    assert read(db, views.list_alerts, kind=["thrash", "reread"]) == []
    assert len(read(db, views.list_alerts, limit=1)) == 1
    assert read(db, views.list_alerts, severity="warn") == everything


def test_thresholds_defaults_match_the_spec() -> None:
    t = Thresholds()
    assert (t.churn_asks, t.churn_window, t.go_ahead_max_words) == (3, 10, 4)
    assert (t.thrash_repeats, t.thrash_window, t.thrash_errors) == (3, 8, 3)
    assert (t.context_alert, t.reread_count, t.cache_rebuild_tokens) == (0.8, 3, 50_000)
    assert (t.deescalate_max_tool_calls, t.deescalate_max_output, t.deescalate_max_context) == (
        2,
        800,
        30_000,
    )


def _scanned_health(db: Path) -> dict[str, Any]:
    """The Health figures that `response_counts` and meta `api_errors` stand for, scanned from the rows."""
    tok = "input_tokens + output_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens"
    with Store.open(db, read_only=True) as store:
        total, unpriced, n = store.query(
            f"SELECT sum({tok}), sum({tok}) FILTER (WHERE NOT priced), count(*) FROM responses"
        )[0]
        models = store.query_dicts(
            f"""SELECT model, count(*)::INTEGER AS requests, sum({tok})::BIGINT AS tokens
                FROM responses WHERE NOT priced GROUP BY model ORDER BY tokens DESC, model"""
        )
        errors = store.query("SELECT count(*) FROM events WHERE kind = 'api_error'")[0][0]
    return {"share": (unpriced or 0) / total, "responses": n, "unpriced_models": models, "api_errors": errors}


def test_health_counters_follow_appends_and_streamed_copies(root: Path, db: Path) -> None:
    """Health reads counters kept by each write; after passes that append, re-stream a reply with more
    output tokens and add API errors, they still equal a scan of the rows."""
    path = main_file(root)
    c = Chat(model="claude-fable-9").prompt("a").say("b").say("c", model=OPUS)
    c.save(path)
    ingest(root, db)
    streamed = dict(c.lines[-1], message=dict(c.lines[-1]["message"]))
    streamed["message"]["usage"] = dict(streamed["message"]["usage"], output_tokens=5_000)
    c.lines = [streamed]  # the final copy of the last reply, with its full output
    c.say("d", model="claude-fable-9").api_error()
    c.save(path, mode="a")
    ingest(root, db)
    Chat(session=S2).prompt("a").say("b").api_error().api_error().save(main_file(root, S2))
    ingest(root, db)
    h = read(db, views.health)
    want = _scanned_health(db)
    assert (h["responses"], h["api_errors"], h["unpriced_models"]) == (
        want["responses"], want["api_errors"], want["unpriced_models"]
    )
    assert h["unpriced_token_share"] == pytest.approx(want["share"])
    assert h["api_errors"] == 3
    assert [m["requests"] for m in h["unpriced_models"]] == [2]


def test_newest_first_lists_with_a_limit_are_the_head_of_the_whole_list(root: Path, db: Path) -> None:
    """A list with a limit reads only the rows from its last row's start on: it must still be exactly the
    head of the whole list, across sessions months apart and for a limit it cannot fill."""
    for n, session in enumerate((S, S2)):
        chat = Chat(session=session, start=86_400 * 100 * n).prompt("a").say("b", model=OPUS).say("c", model=HAIKU)
        chat.save(main_file(root, session))
    ingest(root, db)
    everything = read(db, views.list_alerts)
    assert [a["session_id"] for a in everything] == [S2, S]
    for limit in range(1, len(everything) + 2):
        assert read(db, views.list_alerts, limit=limit) == everything[:limit]
