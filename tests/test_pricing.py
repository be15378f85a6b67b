"""SPEC §3 pricing rules, through the store (SQL) and the Python what-if path alike."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import astuple, replace
from datetime import datetime
from importlib import resources
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tiermon.ingest import genai_rates
from tiermon.ingest.config import load_settings
from tiermon.ingest.models import model_base
from tiermon.ingest.pricing import COST_SQL, PriceFileError, load_price_table
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.schema import PRICE_COLUMNS, create_table_sql
from tiermon.ingest.store import PRICE_JOIN, Store
from transcripts import assistant, usage, write

S = "22222222-2222-3333-4444-555555555555"
PACKAGE_VERSION = version("genai-prices")


def _ingest(tmp_path: Path, db: Path, entries: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    write(tmp_path / "src" / "projects" / "p" / f"{S}.jsonl", entries)
    Ingestor(load_settings(db=db, sources=[tmp_path / "src"])).run()
    with Store.open(db, read_only=True) as store:
        return {r[0]: tuple(r[1:]) for r in store.query("SELECT message_id, cost_usd, priced, tier FROM responses")}


AFTER = 12 * 86400  # 2026-03-14: past the 2026-03-13 end of the 4.6 models' long-context tier


def test_cache_write_lifetimes_long_context_fast_geo_and_unknown(tmp_path: Path, db: Path) -> None:
    rows = _ingest(tmp_path, db, [
        assistant(S, "a1", AFTER + 1, "m_1h", "r1", "claude-opus-4-6", usage(inp=0, out=0, w1h=1_000_000)),
        assistant(S, "a2", 2, "m_flat", "r2", "claude-haiku-4-5-20251001", usage(inp=0, out=0, w5=1_000_000, breakdown=False)),
        assistant(S, "a3", 3, "m_long", "r3", "claude-sonnet-4-5-20250929", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a4", 4, "m_short", "r4", "claude-sonnet-4-5-20250929", usage(inp=1000, out=1000, read=198_000)),
        assistant(S, "a5", 5, "m_46", "r5", "claude-sonnet-4-6", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a6", AFTER + 6, "m_fast", "r6", "claude-opus-4-6", usage(inp=1_000_000, out=0, speed="fast")),
        assistant(S, "a7", AFTER + 7, "m_us", "r7", "claude-opus-4-6", usage(inp=1_000_000, out=0, inference_geo="us")),
        assistant(S, "a8", 8, "m_new", "r8", "claude-zephyr-9", usage(inp=500, out=500)),
        assistant(S, "a9", AFTER + 9, "m_1m", "r9", "claude-opus-4-6[1m]", usage(inp=1_000_000, out=0)),
        assistant(S, "a10", AFTER + 10, "m_46_after", "r10", "claude-sonnet-4-6", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a11", 11, "m_4_long", "r11", "claude-sonnet-4-20250514", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a12", 12, "m_o46_long", "r12", "claude-opus-4-6", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a13", 13, "m_fast_small", "r13", "claude-opus-4-7", usage(inp=100_000, out=0, speed="fast")),
    ])  # fmt: skip
    assert rows["m_1h"][0] == pytest.approx(10.0)  # 1h writes at 2x input, not 1.25x
    assert rows["m_flat"][0] == pytest.approx(1.25)  # flat field only: priced as 5-minute writes
    assert rows["m_long"][0] == pytest.approx((1000 * 6 + 1000 * 22.5 + 200_000 * 0.6) / 1e6)
    assert rows["m_short"][0] == pytest.approx((1000 * 3 + 1000 * 15 + 198_000 * 0.3) / 1e6)
    assert rows["m_46"][0] == pytest.approx((1000 * 6 + 1000 * 22.5 + 200_000 * 0.6) / 1e6)  # before 2026-03-13
    assert rows["m_46_after"][0] == pytest.approx((1000 * 3 + 1000 * 15 + 200_000 * 0.3) / 1e6)  # no premium after
    assert rows["m_4_long"][0] == pytest.approx((1000 * 6 + 1000 * 22.5 + 200_000 * 0.6) / 1e6)  # the override
    assert rows["m_o46_long"][0] == pytest.approx((1000 * 10 + 1000 * 37.5 + 200_000 * 1.0) / 1e6)  # package's tier
    assert rows["m_fast"][0] == pytest.approx(30.0)
    assert rows["m_fast_small"][0] == pytest.approx(3.0)
    assert rows["m_us"][0] == pytest.approx(5.5)
    assert rows["m_1m"][0] == pytest.approx(5.0)
    assert rows["m_new"] == (None, False, "other")  # unpriced, never $0


def test_sql_and_python_costs_agree(tmp_path: Path, db: Path) -> None:
    table = load_price_table()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("claude-sonnet-4-20250514", dict(inp=50_000, out=2000, read=150_001, w5=10)),
        ("claude-haiku-4-5", dict(inp=7, out=9, read=11, w5=13, w1h=17)),
        ("claude-opus-4-1-20250805", dict(inp=1, out=2, read=3, w5=4, w1h=5)),
    ]
    rows = _ingest(tmp_path, db, [
        assistant(S, f"a{i}", i, f"m{i}", f"r{i}", model, usage(**u)) for i, (model, u) in enumerate(cases)
    ])  # fmt: skip
    for i, (model, u) in enumerate(cases):
        expected = table.cost(model, input_tokens=u["inp"], output_tokens=u["out"], cache_read=u["read"],
                              write_5m=u.get("w5", 0), write_1h=u.get("w1h", 0))  # fmt: skip
        assert rows[f"m{i}"][0] == pytest.approx(expected)


def test_user_price_file_adds_a_model_and_reprices_stored_rows(tmp_path: Path, db: Path, isolated_env: Path) -> None:
    rows = _ingest(tmp_path, db, [assistant(S, "a1", 1, "m1", "r1", "claude-zephyr-9", usage(inp=1_000_000, out=0))])
    assert rows["m1"][1] is False
    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text(
        'version = "team-1"\n[models."claude-zephyr-9"]\ntier = "opus"\ninput = 10\noutput = 50\n'
        "write_5m = 12.5\nwrite_1h = 20\ncache_read = 1\n"
    )
    Ingestor(load_settings(db=db, sources=[tmp_path / "src"])).run()
    with Store.open(db, read_only=True) as store:
        assert store.query("SELECT cost_usd, priced, tier FROM responses") == [(10.0, True, "opus")]
        assert store.meta("price_version") == f"genai-prices {PACKAGE_VERSION}+team-1"


@pytest.mark.parametrize(("body", "says"), [
    ('[models."x"]\ninput = "cheap"\n', "needs input, output"),
    ('[models."x"]\ninput = "cheap"\noutput = 1\nwrite_5m = 1\nwrite_1h = 1\ncache_read = 1\n', "input must be a number"),
    ('[models."x"]\ninput = -1\noutput = 1\nwrite_5m = 1\nwrite_1h = 1\ncache_read = 1\n', "input must be a finite number >= 0"),
    ('[models."x"]\ninput = nan\noutput = 1\nwrite_5m = 1\nwrite_1h = 1\ncache_read = 1\n', "input must be a finite"),
    ('[models."x"]\ninput = 1\noutput = inf\nwrite_5m = 1\nwrite_1h = 1\ncache_read = 1\n', "output must be a finite"),
    ('[models."x"]\ninput = 1\noutput = 1\nwrite_5m = 1\nwrite_1h = 1\ncache_read = true\n', "cache_read must be a number"),
    ('models = 3\n', "[models] must be a table"),
    ('[models]\nx = 3\n', "model 'x' must be a table"),
    ("not toml [", "not valid TOML"),
])  # fmt: skip
def test_bad_price_file_is_one_clear_error(tmp_path: Path, body: str, says: str) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text(body)
    with pytest.raises(PriceFileError, match=re.escape(says)) as err:
        load_price_table(bad)
    assert "\n" not in str(err.value)


def test_bad_price_file_through_the_cli(tiermon: Any, isolated_env: Path, db: Path) -> None:
    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text('[models."x"]\ninput = -3\noutput = 1\nwrite_5m = 1\nwrite_1h = 1\ncache_read = 1\n')
    result = tiermon("--db", str(db), "prices", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "input must be a finite number >= 0" in lines[0]


def test_prices_command_names_each_source(tiermon: Any, isolated_env: Path, db: Path) -> None:
    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text('[models."claude-zephyr-9"]\ninput = 1\noutput = 2\nwrite_5m = 1\nwrite_1h = 1\ncache_read = 0.1\n')
    data = json.loads(tiermon("--db", str(db), "prices", "--json").stdout)
    assert data["package"] == f"genai-prices {PACKAGE_VERSION}"
    by_model = {(m["model"], m["valid_from"]): m for m in data["models"]}
    assert by_model[("claude-haiku-4-5", "1970-01-01T00:00:00")]["source"] == f"genai-prices {PACKAGE_VERSION}"
    assert "override: https://" in by_model[("claude-sonnet-4", "1970-01-01T00:00:00")]["source"]
    assert by_model[("claude-zephyr-9", "1970-01-01T00:00:00")]["source"] == str(config / "prices.toml")
    assert by_model[("claude-sonnet-4-6", "2026-03-13T00:00:00")]["lc_input"] is None
    assert {m["vendor"] for m in data["models"]} >= {"anthropic", "openai", "google"}
    human = tiermon("--db", str(db), "prices").stdout
    assert f"genai-prices {PACKAGE_VERSION}" in human


# -- SPEC §3 -------------------------------------------------------------------------------------

SPEC_RATES = {
    ("claude-haiku-4-5",): (1, 5, 1.25, 2, 0.10),
    ("claude-3-5-haiku",): (0.80, 4, 1.00, 1.60, 0.08),
    ("claude-sonnet-4", "claude-sonnet-4-5", "claude-sonnet-4-6"): (3, 15, 3.75, 6, 0.30),
    ("claude-opus-4", "claude-opus-4-1"): (15, 75, 18.75, 30, 1.50),
    ("claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-8", "claude-opus-5"): (5, 25, 6.25, 10, 0.50),
    ("claude-sonnet-5",): (2, 10, 2.50, 4, 0.20),
    ("claude-fable-5",): (10, 50, 12.50, 20, 1.00),
}  # fmt: skip
"""SPEC §3's table: input / output / 5m write / 1h write / cache read per million tokens."""


@pytest.mark.parametrize("family", [m for models in SPEC_RATES for m in models])
def test_every_spec_rate(family: str) -> None:
    table = load_price_table()
    want = next(rates for models, rates in SPEC_RATES.items() if family in models)
    for model in (family, f"{family}-20260101", f"{family}[1m]"):
        price = table.lookup(model, datetime(2026, 6, 1))
        assert price is not None, model
        assert astuple(price.rates) == pytest.approx(want), model


@pytest.mark.parametrize(("model", "before", "after"), [
    ("claude-sonnet-4", True, True), ("claude-sonnet-4-5", True, True), ("claude-sonnet-4-6", True, False),
    ("claude-haiku-4-5", False, False),
])  # fmt: skip
def test_long_context_rates(model: str, before: bool, after: bool) -> None:
    table = load_price_table()
    for at, has in ((datetime(2026, 3, 12, 23, 59), before), (datetime(2026, 3, 13), after)):
        price = table.lookup(model, at)
        assert price is not None
        if has:
            assert price.long_context is not None and astuple(price.long_context) == pytest.approx((6, 22.5, 7.5, 12, 0.6))
            assert price.lc_threshold == 200_000
        else:
            assert price.long_context is None


def test_fast_mode_multipliers() -> None:
    table = load_price_table()
    assert {m: table.lookup(m).fast_multiplier for m in ("claude-opus-4-6", "claude-opus-4-7", "claude-opus-4-5")} == {  # type: ignore[union-attr]
        "claude-opus-4-6": 6.0, "claude-opus-4-7": 6.0, "claude-opus-4-5": 1.0}  # fmt: skip


def test_overrides_are_still_needed() -> None:
    """Fails once genai-prices catches up: then delete the entry from price_overrides.toml."""
    rows = {(r.key, r.valid_from): r for r in genai_rates.compile_rows()}
    always = genai_rates.ALWAYS_FROM
    assert rows[("claude-sonnet-4", always)].long_context is None  # Sonnet 4.0's long-context premium
    assert rows[("claude-opus-4-6", datetime(2026, 3, 13))].fast_multiplier == 1.0  # fast mode ×6
    assert rows[("claude-opus-4-7", always)].fast_multiplier == 1.0
    overrides = tomllib.loads(resources.files("tiermon.ingest").joinpath("price_overrides.toml").read_text())
    assert "coder-model" not in {r.key for r in genai_rates.compile_rows()}  # Qwen OAuth's free model
    assert set(overrides["models"]) == {"claude-sonnet-4", "claude-opus-4-6", "claude-opus-4-7", "coder-model"}
    assert all(spec["source"].startswith("https://") for spec in overrides["models"].values())


def test_one_batch_rule_matches_the_package() -> None:
    """tiermon's single ×0.5 for batch agrees with every Anthropic batch price the package lists."""
    from genai_prices.data_snapshot import get_snapshot
    from genai_prices.types import ModelPrice

    anthropic = next(p for p in get_snapshot().providers if p.id == "anthropic")
    checked = 0
    for model in anthropic.models:
        base = model.prices if isinstance(model.prices, ModelPrice) else model.prices[-1].prices
        for variant in model.price_variants or ():
            if variant.when == {"processing": "batch"}:
                for key, value in variant.prices.__dict__.items():
                    full = getattr(base, key)
                    half = value.base if hasattr(value, "base") else value
                    assert half * 2 == (full.base if hasattr(full, "base") else full), (model.id, key)
                    checked += 1
    assert checked > 20


def test_rules_price_ids_the_package_matches_by_prefix() -> None:
    table = load_price_table()
    codex = table.lookup("gpt-5.1-codex")
    assert codex is not None and codex.vendor == "openai" and codex.rates.input == 1.25
    assert table.lookup("gemini-2.5-pro") is not None and table.lookup("gemini-2.5-pro").vendor == "google"  # type: ignore[union-attr]
    assert table.lookup("claude-zephyr-9") is None


def test_sql_equals_python_on_every_rule() -> None:
    """COST_SQL over PRICE_JOIN gives PriceTable.cost to the last bit, across models, dates and surcharges."""
    table = load_price_table()
    models = ["claude-sonnet-4-20250514", "claude-sonnet-4-6", "claude-opus-4-6[1m]", "claude-opus-4-7",
              "claude-haiku-4-5-20251001", "gpt-5.1-codex", "gemini-2.5-pro", "claude-zephyr-9"]  # fmt: skip
    cases = [
        (m, ts, inp, read, speed, geo, batch)
        for m in models
        for ts in (datetime(2026, 3, 1), datetime(2026, 3, 13), None)
        for inp, read in ((1234, 5678), (3000, 199_000), (250_001, 17))
        for speed, geo, batch in ((None, None, False), ("fast", "us", True), ("standard", "eu", False))
    ]
    con = duckdb.connect()
    installed = table.with_models(models)
    con.execute(create_table_sql("prices", PRICE_COLUMNS))
    con.executemany(f"INSERT INTO prices VALUES ({', '.join('?' * len(PRICE_COLUMNS))})",
                    [list(p.as_row().values()) for p in installed.rows()])  # fmt: skip
    con.execute("CREATE TABLE responses (i INT, ts TIMESTAMP, model VARCHAR, model_base VARCHAR, input_tokens BIGINT,"
                " output_tokens BIGINT, cache_read_tokens BIGINT, cache_write_5m_tokens BIGINT,"
                " cache_write_1h_tokens BIGINT, speed VARCHAR, inference_geo VARCHAR, is_batch BOOLEAN)")  # fmt: skip
    con.executemany("INSERT INTO responses VALUES (?, ?, ?, ?, ?, 77, ?, 11, 13, ?, ?, ?)", [
        (i, ts, m, model_base(m), inp, read, speed, geo, batch) for i, (m, ts, inp, read, speed, geo, batch) in enumerate(cases)
    ])  # fmt: skip
    got = dict(con.execute(f"SELECT r.i, {COST_SQL} FROM responses r {PRICE_JOIN}").fetchall())
    assert len(got) == len(cases)
    for i, (m, ts, inp, read, speed, geo, batch) in enumerate(cases):
        want = table.cost(m, input_tokens=inp, output_tokens=77, cache_read=read, write_5m=11, write_1h=13,
                          speed=speed, geo=geo, batch=batch, at=ts)  # fmt: skip
        assert got[i] == want, (m, ts, inp, read, speed, geo, batch)


def test_the_compiled_table_is_cached_between_runs_and_a_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    """Every command loads the price table: the second load must not import and compile genai-prices again."""
    import subprocess
    import sys

    cache = tmp_path / "cache"
    fresh = load_price_table(cache_dir=cache)
    [saved] = list(cache.glob("price-table-*.json"))
    assert saved.stat().st_mode & 0o777 == 0o600
    probe = ("import sys; from pathlib import Path; from tiermon.ingest.pricing import load_price_table; "
             f"t = load_price_table(cache_dir=Path({str(cache)!r})); "
             "print(t.fingerprint, 'genai_prices' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == [fresh.fingerprint, "False"]
    cached = load_price_table(cache_dir=cache)
    assert replace(cached).fingerprint == fresh.fingerprint  # the stored fingerprint is the one its rows hash to
    saved.write_text("{not json")
    assert load_price_table(cache_dir=cache).fingerprint == fresh.fingerprint
