"""Provides SessionCommands: "Open session …" in the command palette, over every stored session.

When the palette opens, the sessions are read once in a thread (the newest
PALETTE_LIMIT of all time, every agent); until that answer arrives, and if
the store is busy, the list the Live pane fetched last stands in, so the
palette never waits on the store. Hits are built as plain Content: project
paths and branches come from transcripts and must never be read as markup.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from tiermon.tui.messages import SessionRequested
from tiermon.tui.widgets.cells import model_short, plain

if TYPE_CHECKING:
    from tiermon.tui.app import TiermonApp

PALETTE_LIMIT = 5_000
"""Newest sessions the palette searches (fuzzy matching each on every keystroke must stay quick)."""


class SessionCommands(Provider):
    """Fuzzy-find any session by project, branch, model, first prompt or id."""

    _all: list[dict[str, Any]] | None = None

    async def startup(self) -> None:
        try:
            self._all = await asyncio.to_thread(self._read_all)
        except Exception:  # noqa: BLE001 - a busy or missing store leaves the recent list in place
            self._all = None

    def _read_all(self) -> list[dict[str, Any]]:
        from tiermon.ingest.sessions import list_sessions
        from tiermon.ingest.store import Store

        app: TiermonApp = self.app  # type: ignore[assignment]
        if not app.settings.db_path.exists():
            return []
        with Store.open(app.settings.db_path, read_only=True, wait=app.query_wait) as store:
            rows = list_sessions(store, limit=PALETTE_LIMIT)
        for row in rows:
            models = row.get("models") or []
            row["model"] = models[-1] if models else None
        return rows

    def _sessions(self) -> list[dict[str, Any]]:
        if self._all:
            return self._all
        app: TiermonApp = self.app  # type: ignore[assignment]
        return list(getattr(app, "recent_sessions", []))

    @staticmethod
    def _label(row: dict[str, Any]) -> str:
        project = (row.get("project") or "").rstrip("/").rsplit("/", 1)[-1] or row["session_id"]
        parts = [project, row.get("branch") or "", model_short(row.get("model")), row["session_id"][:8],
                 (row.get("first_prompt") or "")[:40]]  # fmt: skip
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
