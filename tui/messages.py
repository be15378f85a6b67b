"""Provides the app-wide messages: past-tense facts posted by workers and lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.message import Message

from tiermon.ingest.summary import IngestSummary


@dataclass
class IngestProgressed(Message):
    """A backfill advanced; only the newest one in the queue matters."""

    done: int
    total: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, IngestProgressed)


class StoreReady(Message):
    """The store exists at the current schema: panes may query it from now on."""


@dataclass
class DataChanged(Message):
    """Rows were committed: screens showing these sessions (or totals) should re-query."""

    sessions: frozenset[str]


@dataclass
class IngestFinished(Message):
    """One ingest pass ended (everything new on disk is in the store)."""

    summary: IngestSummary


@dataclass
class SessionRequested(Message):
    """A list asked to open one session, optionally at a place (a turn or a time)."""

    session_id: str
    turn: int | None = None
    at: datetime | None = None
