"""tiermon: see how Claude Code sessions and Anthropic API calls spend money across model tiers."""

from __future__ import annotations

__version__ = "0.1.0"
"""The single source of the version: pyproject.toml reads it, and importlib.metadata costs ~45 ms."""

TYPE_CHECKING = False
if TYPE_CHECKING:  # not `typing.TYPE_CHECKING`: `import tiermon` stays free of typing
    from typing import Any

    from tiermon.instrument import instrument as instrument


def __getattr__(name: str) -> Any:
    """Import the SDK middleware lazily: `import tiermon` must stay cheap."""
    if name == "instrument":
        from tiermon.instrument import instrument

        return instrument
    raise AttributeError(name)
