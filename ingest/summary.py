"""What one ingest pass did: the one summary the CLI, the dashboard and the backfill workers add up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tiermon.ingest.rows import Batch

ProgressFn = Callable[[int, int], None]
"""Called with (bytes done, bytes total) as a pass advances: the one progress protocol."""


@dataclass
class IngestSummary:
    """Counts of one pass (or a piece of one), for the CLI summary and the Health pane."""

    files_seen: int = 0
    files_read: int = 0
    files_reset: int = 0
    files_unreadable: int = 0
    bytes_read: int = 0
    lines: int = 0
    responses: int = 0
    events: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    """Reading, parsing and writing rows."""
    signals_seconds: float = 0.0
    """Recomputing the signals of the sessions the pass touched."""
    parse_workers: int = 0
    """Worker processes that parsed this pass's files (0: it read them in its own process)."""
    changed_sessions: set[str] = field(default_factory=set)
    unreadable: list[str] = field(default_factory=list)
    """Paths that could not be opened this pass."""

    def add(self, batch: Batch) -> None:
        self.lines += batch.lines
        self.responses += batch.response_count
        self.events += batch.event_count
        self.quarantined += len(batch.quarantine)
        self.changed_sessions.update(s for s in batch.responses.get("session_id", ()) if s)
        self.changed_sessions.update(s for s in batch.events.get("session_id", ()) if s)

    def merge(self, part: IngestSummary) -> None:
        """Add the counts and sessions of `part`, a piece of this pass (not its files seen or timings)."""
        self.files_read += part.files_read
        self.files_reset += part.files_reset
        self.files_unreadable += part.files_unreadable
        self.bytes_read += part.bytes_read
        self.lines += part.lines
        self.responses += part.responses
        self.events += part.events
        self.quarantined += part.quarantined
        self.changed_sessions |= part.changed_sessions
        self.unreadable.extend(part.unreadable)
        self.parse_workers = max(self.parse_workers, part.parse_workers)
