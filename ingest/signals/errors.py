"""Provides API error alerts: `<synthetic>` / isApiErrorMessage rows and `api_error` system entries.

Retries of one failure arrive as a burst; errors on one chain less than
`API_ERROR_GAP` apart form one alert with their count.
"""

from __future__ import annotations

from datetime import timedelta

from tiermon.ingest.signals.base import Alert, Event, SessionRows, short

API_ERROR_GAP = timedelta(minutes=5)
"""Errors closer than this on one chain are one incident."""


def api_error_alerts(rows: SessionRows) -> list[Alert]:
    alerts = []
    for chain, events in rows.chains().items():
        burst: list[Event] = []
        for e in [*(e for e in events if e.kind == "api_error"), None]:
            if e is not None and (not burst or e.ts - burst[-1].ts <= API_ERROR_GAP):
                burst.append(e)
                continue
            if burst:
                alerts.append(_alert(chain, burst))
            burst = [e] if e is not None else []
    return sorted(alerts, key=lambda a: a.start)


def _alert(chain: str | None, burst: list[Event]) -> Alert:
    texts = list(dict.fromkeys(short(e.text, 80) or (e.subtype or "API error") for e in burst))
    count = f"{len(burst)} API errors" if len(burst) > 1 else "API error"
    where = f" in subagent {chain}" if chain else ""
    return Alert(
        kind="api_error", severity="warn", start=burst[0].ts, end=burst[-1].ts, agent_id=chain,
        message=f"{count}{where}: {texts[0]}",
        figures={"count": len(burst), "messages": texts[:5]},
    )  # fmt: skip
