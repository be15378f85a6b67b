"""The `tiermon` console script: `statusline` answers before click, duckdb or rich are imported.

Claude Code runs the status line on every redraw, so its path must cost
little more than starting Python. A read-only command goes to a running
`tiermon serve` when there is one (tui/resident); every other command, and
every command no server answers, goes to the click CLI.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # not typing.TYPE_CHECKING: the status line's path stays free of typing (~3 ms)
    from typing import Any


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["statusline"]:
        from tiermon.tui.statusline import main as statusline

        sys.exit(statusline(args[1:]))
    from tiermon.tui.resident.client import forward

    status = forward(args)
    if status is not None:
        sys.exit(status)
    from tiermon.tui.cli import main as cli

    return cli(argv)
