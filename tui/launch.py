"""Provides run_dashboard: what `tiermon` with no command runs."""

from __future__ import annotations

from tiermon.ingest.config import Settings
from tiermon.ingest.discovery import source_roots
from tiermon.ingest.sources import SOURCES


def run_dashboard(settings: Settings, *, demo: bool = False) -> None:
    """Open the dashboard over the user's sources; over generated samples with `demo`.

    With no data anywhere the dashboard opens anyway, says so in its window and offers
    the demo; choosing it closes that window and opens the demo in its place.
    """
    from tiermon.tui.app import make_app

    if not demo:
        app = make_app(settings, first_run=not has_data(settings))
        app.run()
        if not app.wants_demo:
            return
    from tiermon.tui.demo import demo_workspace

    with demo_workspace(settings) as workspace:
        make_app(workspace.settings, demo=True, workspace=workspace).run()


def has_data(settings: Settings) -> bool:
    """Explicit sources always count; else any file in an agent's discovered home (an empty
    ~/.claude/projects is no data). A store alone does not: the first run creates one."""
    if settings.sources or settings.api_logs:
        return True
    for kind, roots in source_roots(None).items():
        for root in roots:
            if next(iter(SOURCES[kind].files(root)), None) is not None:
                return True
    return False
