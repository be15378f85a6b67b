"""Provides SessionCommands: "Open session …" in the command palette, over recent sessions.

The list is the one the Live pane fetched last (the app keeps it), so the
palette never waits on the store. Hits are built as plain Content: project
paths and branches come from transcripts and must never be read as markup.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tiermon.tui.messages import SessionRequested
from tiermon.tui.widgets.cells import model_short, plain

if TYPE_CHECKING:
    from tiermon.tui.app import TiermonApp


class SessionCommands(Provider):
    """Fuzzy-find a recent session by project, branch, model or id."""

    def _sessions(self) -> list[dict[str, Any]]:
        app: TiermonApp = self.app  # type: ignore[assignment]
        return list(getattr(app, "recent_sessions", []))

    @staticmethod
    def _label(row: dict[str, Any]) -> str:
        project = (row.get("project") or "").rstrip("/").rsplit("/", 1)[-1] or row["session_id"]
        parts = [project, row.get("branch") or "", model_short(row.get("model")), row["session_id"][:8]]
        return plain("Open session " + " · ".join(p for p in parts if p), 120).plain

    def _open(self, session_id: str) -> None:
        self.app.post_message(SessionRequested(session_id))

    async def discover(self) -> Hits:
        for row in self._sessions()[:10]:
            label = self._label(row)
            yield DiscoveryHit(Content(label), partial(self._open, row["session_id"]), text=label)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for row in self._sessions():
            label = self._label(row)
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, Content(label), partial(self._open, row["session_id"]), text=label)
