"""Settings: where things live and the thresholds of the signals.

Precedence is command line > environment > config file > defaults. The file
is `<user config dir>/tiermon/config.toml` (TIERMON_CONFIG_DIR moves the
folder, which is how tests keep away from the developer's own settings).
"""

from __future__ import annotations

import getpass
import math
import os
import socket
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from tiermon.ingest.sanitize import printable
from tiermon.ingest.sources import SOURCES
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

    @property
    def models_file(self) -> Path:
        """Maps model ids (globs) to a vendor and a tier (SPEC §3)."""
        return self.config_dir / "models.toml"


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
    data = validate(_read_config(config_dir / "config.toml"))
    section = data.get("sources", {})
    file_logs: list[Path] = section.get("api_logs", [])
    file_sources = [(kind, path) for kind, paths in section.items() if kind != "api_logs" for path in paths] or None
    db_path = db or (Path(env["TIERMON_DB"]) if env.get("TIERMON_DB") else None)
    if db_path is None and data.get("store", {}).get("db"):
        db_path = data["store"]["db"]
    team = data.get("team", {})
    return Settings(
        config_dir=config_dir,
        data_dir=data_dir,
        db_path=db_path or data_dir / "tiermon.duckdb",
        sources=[_source_root(s) for s in sources] if sources else file_sources,
        api_logs=[absolute(p) for p in [*file_logs, *(api_logs or [])]],  # files are known by path: one form
        agents=agents,
        thresholds=replace(Thresholds(), **data.get("thresholds", {})),
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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text") from exc


# -- the schema ---------------------------------------------------------------------------------------

Check = Callable[[str, Any], Any]
"""Takes a key's name (`[section] key`) and its value from the file; returns the value to use, or raises
ConfigError with one line naming the key."""


def _bad(name: str, wanted: str, value: Any) -> ConfigError:
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
    return ConfigError(f"config.toml: {name} must be {wanted}, not {printable(shown, one_line=True)}")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(name, "a string", value)
    return value


def _path(name: str, value: Any) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, "a path (a string)", value)
    return Path(value).expanduser()


def _paths(name: str, value: Any) -> list[Path]:
    """A list of paths; a single string is taken as a list of one (not walked a character at a time)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _bad(name, "a list of paths", value)
    return [_path(f"{name}[{i}]", item) for i, item in enumerate(value)]


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, "a whole number", value)
    if value < 1:
        raise _bad(name, "at least 1", value)
    return value


def _share(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, "a number", value)
    if not math.isfinite(value) or not 0 < value <= 1:
        raise _bad(name, "a share above 0 and at most 1", value)
    return float(value)


def _threshold_checks() -> dict[str, Check]:
    """Every Thresholds field: shares (floats) in (0, 1], counts (ints) at least 1."""
    return {f.name: _share if isinstance(f.default, float) else _count for f in fields(Thresholds)}


SCHEMA: dict[str, dict[str, Check]] = {
    "sources": {**{kind: _paths for kind in SOURCES}, "api_logs": _paths},
    "store": {"db": _path},
    "team": {"url": _text, "user": _text, "machine": _text},
    "thresholds": _threshold_checks(),
}
"""Every section and key config.toml may hold, with the check of each: a new key is one entry here."""


def validate(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The file's values checked against SCHEMA and converted; the first problem is a one-line ConfigError."""
    out: dict[str, dict[str, Any]] = {}
    for section, values in data.items():
        keys = SCHEMA.get(section)
        if keys is None:
            known = ", ".join(f"[{name}]" for name in SCHEMA)
            raise ConfigError(f"config.toml: unknown section [{printable(section, one_line=True)}] (known: {known})")
        if not isinstance(values, dict):
            raise _bad(section, f"a section ([{section}] on a line of its own)", values)
        out[section] = {key: _check(section, keys, key, value) for key, value in values.items()}
    return out


def _check(section: str, keys: dict[str, Check], key: str, value: Any) -> Any:
    check = keys.get(key)
    if check is None:
        raise ConfigError(f"config.toml: unknown key {printable(key, one_line=True)} in [{section}] "
                          f"(known: {', '.join(keys)})")  # fmt: skip
    return check(f"[{section}] {key}", value)


def _whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
