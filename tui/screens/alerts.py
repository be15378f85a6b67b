"""Provides AlertsScreen: every alert of SPEC §4, newest first, filterable, opening the session."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text

from tiermon.ingest.signals.views import ALERT_KINDS, list_alerts
from tiermon.ingest.store import Store
from tiermon.tui.screens.signal_list import (
    PROJECT_WIDTH,
    ROW_LIMIT,
    WHEN_WIDTH,
    Column,
    SignalListScreen,
    project_name,
    turn_cell,
    when,
)
from tiermon.tui.widgets.cells import plain


def _kind(row: dict[str, Any]) -> Text:
    """The kind, red and bold when the alert is a warning: severity without its own column."""
    return plain(row.get("kind"), 14, style="bold red" if row.get("severity") == "warn" else "")


class AlertsScreen(SignalListScreen):
    """Alerts across sessions: switches, thrash, churn, context, re-reads, errors, cache rebuilds."""

    TITLE_TEXT = "Alerts"
    KINDS = ALERT_KINDS
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("start", "When", lambda r: r.get("start"), when, WHEN_WIDTH),
        Column("kind", "Kind", lambda r: (r.get("kind"), r.get("severity")), _kind, 14),
        Column("project", "Project", lambda r: r.get("project"), project_name, PROJECT_WIDTH),
        Column("turn", "Turn", lambda r: r.get("turn"), turn_cell, 4),
        Column("message", "Message (red: warning)", lambda r: r.get("message")),
    )

    def fetch(self, store: Store) -> list[dict[str, Any]]:
        return list_alerts(store, limit=ROW_LIMIT)
