"""Settings: where things live and the thresholds of the signals.

Precedence is command line > environment > config file > defaults. The file
is `<user config dir>/tiermon/config.toml` (TIERMON_CONFIG_DIR moves the
folder, which is how tests keep away from the developer's own settings).
"""

from __future__ import annotations

import getpass
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from tiermon.ingest.walk import absolute

APP = "tiermon"


class ConfigError(ValueError):
    """A config file problem; the message is one line for the user."""


@dataclass(frozen=True)
class Thresholds:
    """Signal thresholds (SPEC §4); each can be set under [thresholds] in config.toml."""

    churn_asks: int = 3
    """Needless asks within `churn_window` turns that raise a question_churn alert."""
    churn_window: int = 10
    go_ahead_max_words: int = 4
    """A reply this short that only says go ahead makes the question needless."""
    thrash_repeats: int = 3
    """Runs of the same Bash command within `thrash_window` tool calls that make a thrash."""
    thrash_window: int = 8
    thrash_errors: int = 3
    """Consecutive failing tool results that make a thrash."""
    context_alert: float = 0.8
    """Share of the model's context window that raises context_high."""
    reread_count: int = 3
    """Reads of one file between compactions that make re-read drift."""
    cache_rebuild_tokens: int = 50_000
    """Cache writes after an idle gap that count as a rebuild of an expired cache."""
    escalate_needless_asks: int = 2
    deescalate_max_tool_calls: int = 2
    deescalate_max_output: int = 800
    deescalate_max_context: int = 30_000
    live_window_minutes: int = 30
    """A session with activity this recent is shown as live."""


@dataclass(frozen=True)
class Settings:
    """Resolved paths and options; the app and the CLI take this, never sys.argv."""

    config_dir: Path
    data_dir: Path
    db_path: Path
    sources: list[tuple[str, Path]] | None = None
    """Explicit (source kind, folder) pairs from --source [KIND=]DIR or the config file; None means
    discover every source's default home (SPEC §2)."""
    api_logs: list[Path] = field(default_factory=list)
    agents: tuple[str, ...] = ()
    """Source kinds `--agent KIND` narrows every report, pane and export to; empty means all."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    team_url: str | None = None
    user: str = ""
    machine: str = ""

    @property
    def price_file(self) -> Path:
        return self.config_dir / "prices.toml"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"


def default_dirs(env: dict[str, str] | None = None) -> tuple[Path, Path]:
    env = dict(os.environ) if env is None else env
    config = (
        Path(env["TIERMON_CONFIG_DIR"]) if env.get("TIERMON_CONFIG_DIR") else Path(platformdirs.user_config_dir(APP))
    )
    data = Path(env["TIERMON_DATA_DIR"]) if env.get("TIERMON_DATA_DIR") else Path(platformdirs.user_data_dir(APP))
    return config, data


def load_settings(
    *,
    db: Path | None = None,
    sources: list[Path] | list[tuple[str, Path]] | None = None,
    api_logs: list[Path] | None = None,
    agents: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Settings:
    """Merge the config file, the environment and command-line values."""
    env = dict(os.environ) if env is None else env
    config_dir, data_dir = default_dirs(env)
    data = _read_config(config_dir / "config.toml")
    section = data.get("sources", {})
    file_logs = [Path(p).expanduser() for p in section.get("api_logs", [])]
    file_sources = [(kind, Path(p).expanduser()) for kind, paths in section.items() if kind != "api_logs"
                    for p in paths] or None  # fmt: skip
    db_path = db or (Path(env["TIERMON_DB"]) if env.get("TIERMON_DB") else None)
    if db_path is None and data.get("store", {}).get("db"):
        db_path = Path(data["store"]["db"]).expanduser()
    team = data.get("team", {})
    return Settings(
        config_dir=config_dir,
        data_dir=data_dir,
        db_path=db_path or data_dir / "tiermon.duckdb",
        sources=[_source_root(s) for s in sources] if sources else file_sources,
        api_logs=[absolute(p) for p in [*file_logs, *(api_logs or [])]],  # files are known by path: one form
        agents=agents,
        thresholds=_thresholds(data.get("thresholds", {})),
        team_url=env.get("TIERMON_TEAM_URL") or team.get("url"),
        user=str(team.get("user") or _whoami()),
        machine=str(team.get("machine") or socket.gethostname()),
    )


def _source_root(value: Path | tuple[str, Path]) -> tuple[str, Path]:
    """A bare folder is Claude Code's (SPEC §5)."""
    return value if isinstance(value, tuple) else ("claude", value)


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc


def _thresholds(values: dict[str, Any]) -> Thresholds:
    known = {f.name: f.type for f in fields(Thresholds)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"unknown threshold(s) in config.toml: {', '.join(unknown)}")
    defaults = Thresholds()
    cast: dict[str, Any] = {}
    for name, value in values.items():
        kind = type(getattr(defaults, name))
        try:
            cast[name] = kind(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"threshold {name} must be a {kind.__name__}, got {value!r}") from exc
    return replace(defaults, **cast)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
