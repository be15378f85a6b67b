"""Provides re-read drift: one file read again and again between compactions (SPEC §4.6).

Within one chain, `Read` calls with the same `file_path` are counted per
stretch between two main-chain compactions; `reread_count` or more make one
alert per file and stretch. The model lost track of what it already knew.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime

from tiermon.ingest.config import Thresholds
from tiermon.ingest.rows import TOOL_READ
from tiermon.ingest.signals.base import Alert, SessionRows, short_path

READ = TOOL_READ


@dataclass(frozen=True, slots=True)
class Reread:
    agent_id: str | None
    path: str
    reads: list[datetime]
    since_compaction: datetime | None
    threshold: int

    @property
    def drift_reads(self) -> list[datetime]:
        """The reads from the one that reached the threshold on: the ones that show the drift."""
        return self.reads[self.threshold - 1 :]


def find_rereads(rows: SessionRows, thresholds: Thresholds) -> list[Reread]:
    cuts = rows.compaction_times()
    out = []
    for chain, events in rows.chains().items():
        groups: dict[tuple[int, str], list[datetime]] = {}
        for e in events:
            if e.kind == "tool_use" and e.name == READ and e.text:
                segment = bisect_right(cuts, e.ts)
                groups.setdefault((segment, e.text), []).append(e.ts)
        for (segment, path), reads in groups.items():
            if len(reads) >= thresholds.reread_count:
                since = cuts[segment - 1] if segment else None
                out.append(Reread(chain, path, reads, since, thresholds.reread_count))
    return sorted(out, key=lambda r: (r.reads[0], r.path))


def reread_alerts(found: list[Reread]) -> list[Alert]:
    alerts = []
    for r in found:
        where = f" in subagent {r.agent_id}" if r.agent_id else ""
        since = "since the last compaction" if r.since_compaction else "in this session"
        alerts.append(
            Alert(
                kind="reread", severity="warn", start=r.reads[0], end=r.reads[-1], agent_id=r.agent_id,
                message=f"Read {short_path(r.path, 70)} {len(r.reads)} times {since}{where}",
                figures={
                    "file_path": r.path, "reads": len(r.reads), "threshold": r.threshold,
                    "since_compaction": r.since_compaction.isoformat() if r.since_compaction else None,
                },
                discriminator=r.path,
            )
        )  # fmt: skip
    return alerts
