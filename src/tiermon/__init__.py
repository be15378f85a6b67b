"""tiermon: see how Claude Code sessions and Anthropic API calls spend money across model tiers."""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

try:
    __version__ = metadata.version("tiermon")
except metadata.PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from tiermon.instrument import instrument as instrument


def __getattr__(name: str) -> Any:
    """Import the SDK middleware lazily: `import tiermon` must stay cheap."""
    if name == "instrument":
        from tiermon.instrument import instrument

        return instrument
    raise AttributeError(name)
