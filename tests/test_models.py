"""Vendors and tiers (SPEC §3): the built-in ladders, the user's models.toml, and doctor's unmapped list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import CliResult
from tiermon.ingest.models import ModelsFileError, classify, direction, load_model_rules
from transcripts import assistant, prompt, usage, write

Run = Callable[..., CliResult]
S = "5e1f0c2a-aaaa-4bbb-8ccc-0123456789ab"


@pytest.mark.parametrize(
    ("model", "vendor", "tier"),
    [
        ("claude-opus-4-6[1m]", "anthropic", "opus"),
        ("claude-haiku-4-5-20251001", "anthropic", "haiku"),
        ("gpt-5.1-codex", "openai", "large"),
        ("gpt-5.1-codex-mini", "openai", "small"),
        ("gemini-2.5-pro", "google", "large"),
        ("gemini-3-flash-preview", "google", "mid"),
        ("gemini-2.5-flash-lite", "google", "small"),
        ("qwen3-coder-plus", "alibaba", "mid"),
        ("llama-4-scout", "", "other"),
    ],
)
def test_built_in_ladders(model: str, vendor: str, tier: str) -> None:
    assert classify(model) == (vendor, tier)


def test_rungs_compare_across_vendors() -> None:
    assert direction("opus", "small") == "down"
    assert direction("mid", "opus") == "up"
    assert direction("sonnet", "mid") == "same-tier"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[model]]\nmatch = 5\nvendor = "x"\ntier = "mid"\n', "match must be a glob"),
        ('[[model]]\nmatch = "a*"\ntier = "huge"\n', "tier must be one of"),
        ('[[model]]\nmatch = "a*"\nvendor = "Bad Vendor"\n', "vendor must be"),
        ("model = 3\n", r"expected \[\[model\]\] entries only"),
        ("[[model]\n", "cannot be read"),
    ],
)
def test_a_bad_models_file_is_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(toml)
    with pytest.raises(ModelsFileError, match=message):
        load_model_rules(path)


def test_models_toml_maps_a_model_and_doctor_lists_what_is_unmapped(
    tiermon: Run, db: Path, tmp_path: Path, isolated_env: Path
) -> None:
    root = tmp_path / "claude"
    write(root / "projects" / "-home-dev-shop" / f"{S}.jsonl", [
        prompt(S, "u1", 0, "go"),
        assistant(S, "a1", 1, "msg_1", "req_1", "llama-4-scout", usage(out=5)),
        assistant(S, "a2", 2, "msg_2", "req_2", "claude-opus-4-6", usage(out=6)),
    ])  # fmt: skip
    base = ("--db", str(db), "--source", str(root))
    doctor = json.loads(tiermon(*base, "doctor", "--json").stdout)
    assert [u["model"] for u in doctor["unmapped_models"]] == ["llama-4-scout"]
    assert "map them in models.toml" in tiermon(*base, "doctor").stdout

    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "models.toml").write_text('[[model]]\nmatch = "llama-*"\nvendor = "meta"\ntier = "small"\n')
    models = {m["model"]: m for m in json.loads(tiermon(*base, "report", "model", "--json").stdout)["models"]}
    assert (models["llama-4-scout"]["vendor"], models["llama-4-scout"]["tier"]) == ("meta", "small")
    assert models["claude-opus-4-6"]["tier"] == "opus"
    assert json.loads(tiermon(*base, "doctor", "--json").stdout)["unmapped_models"] == []

    (config / "models.toml").write_text('[[model]]\nmatch = "llama-*"\ntier = "enormous"\n')
    bad = tiermon(*base, "report", "model", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "tier must be one of" in bad.stderr


def test_a_local_model_costs_nothing_and_is_repriced_as_a_labelled_counterfactual(
    tiermon: Run, db: Path, tmp_path: Path
) -> None:
    from tiermon.ingest.pricing import load_price_table
    from tiermon.tui.commands.report import reprice_local

    row: dict[str, Any] = {"model": "qwen3-coder:30b", "vendor": "local", "requests": 10, "input_tokens": 1_000_000,
           "output_tokens": 100_000,
           "cache_read_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0, "cost_usd": 0.0}  # fmt: skip
    reprice_local([row], load_price_table(), "sonnet")
    assert row["cost_usd"] == 0.0
    assert row["repriced"]["cost_usd"] == pytest.approx(3.0 + 1.5)  # Sonnet 4.5: $3 in, $15 out per million
    assert row["repriced"]["label"].startswith("re-pricing")


def test_a_model_priced_as_another_keeps_a_null_cost_and_shows_its_proxy(
    tiermon: Run, db: Path, tmp_path: Path, isolated_env: Path
) -> None:
    """SPEC §2.2: a model the price table does not know stays unpriced; models.toml's `price_as` adds its tokens
    at the named id's list price in a key of its own, labelled, and out of the totals' cost."""
    root = tmp_path / "claude"
    write(root / "projects" / "-home-dev-shop" / f"{S}.jsonl", [
        prompt(S, "u1", 0, "go"),
        assistant(S, "a1", 1, "msg_1", "req_1", "acme-coder-2", usage(inp=100_000, out=10_000)),
        assistant(S, "a2", 2, "msg_2", "req_2", "acme-coder-2", usage(inp=100_000, out=10_000)),
        assistant(S, "a3", 3, "msg_3", "req_3", "claude-opus-4-6", usage(out=6)),
    ])  # fmt: skip
    base = ("--db", str(db), "--source", str(root))
    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    models_toml = config / "models.toml"
    models_toml.write_text('[[model]]\nmatch = "acme-coder-*"\ntier = "mid"\nprice_as = "claude-sonnet-4-5"\n')
    report = json.loads(tiermon(*base, "report", "model", "--json").stdout)
    acme = next(m for m in report["models"] if m["model"] == "acme-coder-2")
    assert acme["cost_usd"] is None and acme["priced"] is False
    assert acme["proxy_cost_usd"] == pytest.approx(2 * (0.3 + 0.15))  # Sonnet 4.5: $3 in, $15 out per million
    assert acme["proxy"]["model"] == "claude-sonnet-4-5" and "list price" in acme["proxy"]["label"]
    opus = next(m for m in report["models"] if m["model"] == "claude-opus-4-6")
    assert "proxy_cost_usd" not in opus
    assert report["totals"]["cost_usd"] == pytest.approx(opus["cost_usd"])  # the proxy stays out of the cost
    assert report["totals"]["proxy_cost_usd"] == pytest.approx(0.9)
    csv_lines = tiermon(*base, "report", "model", "--csv").stdout.splitlines()
    header = csv_lines[0].split(",")
    assert "proxy_cost_usd" in header  # a column though the first (priced) row has no proxy
    acme_line = next(line.split(",") for line in csv_lines if line.startswith("acme-coder-2,"))
    assert float(acme_line[header.index("proxy_cost_usd")]) == pytest.approx(0.9)
    table = " ".join(tiermon(*base, "report", "model").stdout.split())
    assert "acme-coder-2 has no price: at claude-sonnet-4-5's list price" in table and "$0.90, not in the totals" in table

    models_toml.write_text('[[model]]\nmatch = "acme-coder-*"\nprice_as = "no-such-model-9"\n')
    bad = tiermon(*base, "report", "model", check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "no-such-model-9" in bad.stderr
