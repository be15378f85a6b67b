"""SPEC §3 pricing rules, through the store (SQL) and the Python what-if path alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tiermon.ingest.config import load_settings
from tiermon.ingest.pricing import PriceFileError, load_price_table
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import Store
from transcripts import assistant, usage, write

S = "22222222-2222-3333-4444-555555555555"


def _ingest(tmp_path: Path, db: Path, entries: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    write(tmp_path / "src" / "projects" / "p" / f"{S}.jsonl", entries)
    Ingestor(load_settings(db=db, sources=[tmp_path / "src"])).run()
    with Store.open(db, read_only=True) as store:
        return {r[0]: tuple(r[1:]) for r in store.query("SELECT message_id, cost_usd, priced, tier FROM responses")}


def test_cache_write_lifetimes_long_context_fast_geo_and_unknown(tmp_path: Path, db: Path) -> None:
    rows = _ingest(tmp_path, db, [
        assistant(S, "a1", 1, "m_1h", "r1", "claude-opus-4-6", usage(inp=0, out=0, w1h=1_000_000)),
        assistant(S, "a2", 2, "m_flat", "r2", "claude-haiku-4-5-20251001", usage(inp=0, out=0, w5=1_000_000, breakdown=False)),
        assistant(S, "a3", 3, "m_long", "r3", "claude-sonnet-4-5-20250929", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a4", 4, "m_short", "r4", "claude-sonnet-4-5-20250929", usage(inp=1000, out=1000, read=198_000)),
        assistant(S, "a5", 5, "m_46", "r5", "claude-sonnet-4-6", usage(inp=1000, out=1000, read=200_000)),
        assistant(S, "a6", 6, "m_fast", "r6", "claude-opus-4-6", usage(inp=1_000_000, out=0, speed="fast")),
        assistant(S, "a7", 7, "m_us", "r7", "claude-opus-4-6", usage(inp=1_000_000, out=0, inference_geo="us")),
        assistant(S, "a8", 8, "m_new", "r8", "claude-fable-5-1", usage(inp=500, out=500)),
        assistant(S, "a9", 9, "m_1m", "r9", "claude-opus-4-6[1m]", usage(inp=1_000_000, out=0)),
    ])  # fmt: skip
    assert rows["m_1h"][0] == pytest.approx(10.0)  # 1h writes at 2x input, not 1.25x
    assert rows["m_flat"][0] == pytest.approx(1.25)  # flat field only: priced as 5-minute writes
    assert rows["m_long"][0] == pytest.approx((1000 * 6 + 1000 * 22.5 + 200_000 * 0.6) / 1e6)
    assert rows["m_short"][0] == pytest.approx((1000 * 3 + 1000 * 15 + 198_000 * 0.3) / 1e6)
    assert rows["m_46"][0] == pytest.approx((1000 * 3 + 1000 * 15 + 200_000 * 0.3) / 1e6)  # no premium on 4.6
    assert rows["m_fast"][0] == pytest.approx(30.0)
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
    rows = _ingest(tmp_path, db, [assistant(S, "a1", 1, "m1", "r1", "claude-fable-5-1", usage(inp=1_000_000, out=0))])
    assert rows["m1"][1] is False
    config = isolated_env / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "prices.toml").write_text(
        'version = "team-1"\n[models."claude-fable-5-1"]\ntier = "opus"\ninput = 10\noutput = 50\n'
        "write_5m = 12.5\nwrite_1h = 20\ncache_read = 1\n"
    )
    Ingestor(load_settings(db=db, sources=[tmp_path / "src"])).run()
    with Store.open(db, read_only=True) as store:
        assert store.query("SELECT cost_usd, priced, tier FROM responses") == [(10.0, True, "opus")]
        assert store.meta("price_version") == "2026-11-01+team-1"


def test_bad_price_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text('[models."x"]\ninput = "cheap"\n')
    with pytest.raises(PriceFileError, match="model 'x' needs input"):
        load_price_table(bad)
