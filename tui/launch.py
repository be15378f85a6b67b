"""Provides run_dashboard: what `tiermon` with no command runs."""

from __future__ import annotations

import sys

from tiermon.ingest.config import Settings
from tiermon.ingest.discovery import source_roots


def run_dashboard(settings: Settings, *, demo: bool = False) -> None:
    """Open the dashboard over the user's sources; over generated samples with `demo`, or when there are none."""
    from tiermon.tui.app import make_app

    if not demo and not _has_data(settings):
        print("tiermon: no Claude Code data found here; showing the bundled samples (tiermon --demo)", file=sys.stderr)
        demo = True
    if not demo:
        make_app(settings).run()
        return
    from tiermon.tui.demo import demo_workspace

    with demo_workspace(settings) as workspace:
        make_app(workspace.settings, demo=True, workspace=workspace).run()


def _has_data(settings: Settings) -> bool:
    """Explicit sources always count; otherwise any agent's discovered home."""
    if settings.sources or settings.api_logs:
        return True
    return any(source_roots(None).values())
