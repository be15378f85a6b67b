"""Which sessions and rows an export holds: the filters, and session ids resolved from prefixes.

Turned into SQL conditions here so that reading the store (`collect`) and
the user's words for a selection (the CLI) meet in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tiermon.ingest.export.model import ExportError
from tiermon.ingest.reports import ReportFilter
from tiermon.ingest.store import Store


@dataclass(frozen=True)
class Selection:
    """Which sessions and rows an export holds; filters combine with AND."""

    sessions: tuple[str, ...] = ()
    """Full session ids (see `resolve_sessions`)."""
    project: str | None = None
    since: date | None = None
    until: date | None = None
    tz: str = "UTC"

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on responses `r`, with their parameters."""
        clause, params = ReportFilter(since=self.since, until=self.until, project=self.project, tz=self.tz).where()
        if self.sessions:
            clause += f" AND r.session_id IN ({', '.join('?' * len(self.sessions))})"
            params = [*params, *self.sessions]
        return clause, params

    def time_where(self) -> tuple[str, list[Any]]:
        """SQL conditions on the `ts` of `r` alone (for events, which carry no project)."""
        clause, params = ReportFilter(since=self.since, until=self.until, tz=self.tz).where()
        return clause, params

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """--since/--until as naive UTC moments: [low, high)."""
        params = iter(self.time_where()[1])
        return (next(params) if self.since else None), (next(params) if self.until else None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": list(self.sessions), "project": self.project,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None, "timezone": self.tz,
        }  # fmt: skip



def resolve_sessions(store: Store, given: Iterable[str]) -> tuple[str, ...]:
    """Full session ids for ids or unique prefixes; ExportError names the first that fails."""
    out: list[str] = []
    for wanted in given:
        wanted = wanted.strip()
        if not wanted:
            raise ExportError("--session needs a session id")
        matches = [
            r[0] for r in store.query(
                """SELECT DISTINCT session_id FROM (
                     SELECT session_id FROM responses UNION ALL SELECT session_id FROM events)
                   WHERE session_id = ? OR starts_with(session_id, ?) ORDER BY session_id LIMIT 4""",
                [wanted, wanted],
            )
        ]  # fmt: skip
        if wanted in matches:
            matches = [wanted]
        if not matches:
            raise ExportError(f"no session {wanted!r} in the store (see `tiermon report session`)")
        if len(matches) > 1:
            raise ExportError(f"session {wanted!r} is ambiguous: it starts {', '.join(matches[:3])}, …")
        if matches[0] not in out:
            out.append(matches[0])
    return tuple(out)
