"""Local models (formats/local-models.md): free, with their tokens and tokens per second, re-priced on request."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import REPO, CliResult

Run = Callable[..., CliResult]
GENERATOR = REPO.parent / "shared" / "gen_agents.py"


@pytest.fixture(scope="module")
def ollama(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """gen_agents.py's Ollama reply log (seed 3) and its truth."""
    if not GENERATOR.is_file():
        pytest.skip("../shared/gen_agents.py is not present")
    out = tmp_path_factory.mktemp("agents")
    subprocess.run([sys.executable, str(GENERATOR), "gen", str(out), "--seed", "3"], check=True, capture_output=True)
    truth = json.loads((out / "truth.json").read_text())["sessions"]["ollama:ollama-chat.jsonl"]
    return out / "local" / "ollama-chat.jsonl", truth


def test_an_ollama_log_is_free_with_its_tokens_and_tokens_per_second(
    tiermon: Run, db: Path, tmp_path: Path, ollama: tuple[Path, dict[str, object]]
) -> None:
    log, truth = ollama
    empty = tmp_path / "none"
    empty.mkdir()
    base = ("--db", str(db), "--source", str(empty), "--api-log", str(log))
    models = {m["model"]: m for m in json.loads(tiermon(*base, "report", "model", "--json").stdout)["models"]}
    expected = truth["models"]
    assert isinstance(expected, dict)
    assert {m: (r["requests"], r["input_tokens"], r["output_tokens"]) for m, r in models.items()} == {
        m: (t["requests"], t["input"], t["output"]) for m, t in expected.items()
    }
    assert {m: r["tokens_per_second"] for m, r in models.items()} == truth["tokens_per_second"]
    assert all(r["vendor"] == "local" and r["cost_usd"] == 0.0 and r["priced"] for r in models.values())
    assert all(r["repriced"]["cost_usd"] > 0 and "re-pricing" in r["repriced"]["label"] for r in models.values())
    table = " ".join(tiermon(*base, "report", "model").stdout.split())
    assert "$0.00 local" in table and "a re-pricing, not a prediction" in table
    assert "gemma4:26b runs locally ($0 in API fees, 62.6 tokens/s)" in table
