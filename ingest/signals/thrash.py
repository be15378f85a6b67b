"""Provides command thrash: a chain re-running one command, or failing again and again (SPEC §4.4).

Within one chain (the main conversation or one subagent): the same Bash
command (whitespace collapsed by the parser) run `thrash_repeats` times within
`thrash_window` consecutive tool calls, or `thrash_errors` consecutive tool
results with `is_error`. Overlapping findings in a chain merge into one span,
which the alert prices with the responses inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tiermon.ingest.config import Thresholds
from tiermon.ingest.formatting import money
from tiermon.ingest.rows import TOOL_SHELL
from tiermon.ingest.signals.base import Alert, Event, SessionRows, cost_between, short

BASH = TOOL_SHELL


@dataclass
class Thrash:
    agent_id: str | None
    start: datetime
    end: datetime
    repeats: int = 0
    command: str | None = None
    errors: int = 0
    tool_calls: int = 0
    cost: float = 0.0
    response_count: int = 0
    commands: list[str] = field(default_factory=list)


def find_thrash(rows: SessionRows, thresholds: Thresholds) -> list[Thrash]:
    responses = rows.chain_responses()
    out: list[Thrash] = []
    for chain, events in rows.chains().items():
        calls = [e for e in events if e.kind == "tool_use"]
        results = [e for e in events if e.kind == "tool_result"]
        result_ts: dict[str | None, datetime] = {e.tool_use_id: e.ts for e in results if e.tool_use_id}
        call_ts: dict[str | None, datetime] = {e.tool_use_id: e.ts for e in calls if e.tool_use_id}
        spans = _repeats(calls, result_ts, thresholds) + _error_runs(results, call_ts, thresholds)
        for span in _merge(spans):
            span.agent_id = chain
            span.tool_calls = sum(1 for c in calls if span.start <= c.ts <= span.end)
            inside = [r for r in responses.get(chain, []) if span.start <= r.ts <= span.end]
            span.cost = cost_between(inside, span.start, span.end)
            span.response_count = len(inside)
            out.append(span)
    return sorted(out, key=lambda t: t.start)


def _repeats(
    calls: list[Event], result_ts: dict[str | None, datetime], th: Thresholds
) -> list[Thrash]:
    """Clusters of one Bash command dense enough: `repeats` runs within `window` consecutive calls."""
    positions: dict[str, list[int]] = {}
    for i, c in enumerate(calls):
        if c.name == BASH and c.text:
            positions.setdefault(c.text, []).append(i)
    spans = []
    for command, pos in positions.items():
        marked: set[int] = set()
        for i in range(len(pos) - th.thrash_repeats + 1):
            if pos[i + th.thrash_repeats - 1] - pos[i] < th.thrash_window:
                marked.update(pos[i : i + th.thrash_repeats])
        for cluster in _clusters(sorted(marked), th.thrash_window):
            first, last = calls[cluster[0]], calls[cluster[-1]]
            end = result_ts.get(last.tool_use_id, last.ts)
            spans.append(
                Thrash(
                    None,
                    first.ts,
                    max(end, last.ts),
                    repeats=len(cluster),
                    command=command,
                    commands=[command],
                )
            )
    return spans


def _clusters(indexes: list[int], window: int) -> list[list[int]]:
    out: list[list[int]] = []
    for i in indexes:
        if out and i - out[-1][-1] < window:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _error_runs(
    results: list[Event], call_ts: dict[str | None, datetime], th: Thresholds
) -> list[Thrash]:
    """Runs of consecutive failing tool results."""
    spans = []
    run: list[Event] = []
    for e in [*results, None]:
        if e is not None and e.is_error:
            run.append(e)
            continue
        if len(run) >= th.thrash_errors:
            start = min(call_ts.get(run[0].tool_use_id, run[0].ts), run[0].ts)
            spans.append(Thrash(None, start, run[-1].ts, errors=len(run)))
        run = []
    return spans


def _merge(spans: list[Thrash]) -> list[Thrash]:
    merged: list[Thrash] = []
    for s in sorted(spans, key=lambda t: t.start):
        if merged and s.start <= merged[-1].end:
            m = merged[-1]
            m.end = max(m.end, s.end)
            if s.repeats > m.repeats:
                m.repeats, m.command = s.repeats, s.command
            m.errors = max(m.errors, s.errors)
            m.commands += [c for c in s.commands if c not in m.commands]
        else:
            merged.append(s)
    return merged


def thrash_alerts(found: list[Thrash]) -> list[Alert]:
    alerts = []
    for t in found:
        parts = []
        if t.repeats:
            parts.append(f'ran "{short(t.command, 50)}" {t.repeats} times')
        if t.errors:
            parts.append(f"{t.errors} tool calls failed in a row")
        where = f"in subagent {t.agent_id}" if t.agent_id else "on the main chain"
        alerts.append(
            Alert(
                kind="thrash", severity="warn", start=t.start, end=t.end, agent_id=t.agent_id,
                message=f"Thrash {where}: {' and '.join(parts)} ({t.tool_calls} tool calls, {money(t.cost)})",
                figures={
                    "repeats": t.repeats, "command": t.command, "commands": t.commands,
                    "consecutive_errors": t.errors, "tool_calls": t.tool_calls,
                    "responses": t.response_count, "cost_usd": round(t.cost, 6),
                },
                discriminator=short(t.command, 40) if t.command else "errors",
            )
        )  # fmt: skip
    return alerts
