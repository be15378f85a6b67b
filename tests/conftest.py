"""Shared fixtures: every test runs away from the developer's own config, data and transcripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads ~/.claude, the user's config or data dir, or a colour setting."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TIERMON_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("TIERMON_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("TIERMON_LOCK_WAIT", "3")
    for var in ("CLAUDE_CONFIG_DIR", "XDG_CONFIG_HOME", "TIERMON_DB", "TIERMON_TEAM_URL", "TIERMON_API_LOG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    return home


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "tiermon.duckdb"


CliResult = subprocess.CompletedProcess[str]


@pytest.fixture
def tiermon() -> Callable[..., CliResult]:
    """Run the installed `tiermon` entry point in a real subprocess."""
    exe = Path(sys.executable).with_name("tiermon")

    def run(*args: str, check: bool = True, env: dict[str, str] | None = None) -> CliResult:
        result = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tiermon {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    return run


def run_json(tiermon: Callable[..., CliResult], *args: str) -> Any:
    return json.loads(tiermon(*args).stdout)
