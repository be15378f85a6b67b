"""The `tiermon` console script: a stored report answer when it still holds, else the full CLI.

Importing click, DuckDB and rich costs more than answering a repeated
`tiermon report` from the answer cache (`tiermon.ingest.answers`), so this
module imports only that stdlib-only cache before deciding.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def main() -> Any:
    """Print the cached answer and exit 0, or run the full CLI."""
    text = _cached_answer(sys.argv[1:])
    if text is None:
        from tiermon.tui.cli import main as cli_main

        return cli_main()
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    except OSError as exc:
        sys.stderr.write(f"tiermon: error: {exc.strerror or exc}\n")
        return 2
    return 0


def _cached_answer(argv: list[str]) -> str | None:
    if "report" not in argv:  # the only command answered from the cache: the others skip even its import
        return None
    try:
        from tiermon.ingest.answers import lookup

        return lookup(argv)
    except Exception:  # noqa: BLE001 - the cache is an optimisation: any surprise means the full CLI answers
        return None
