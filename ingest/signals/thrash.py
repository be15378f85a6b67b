"""Provides command thrash: a chain re-running one command, or failing again and again (SPEC §4.4).

Within one chain (the main conversation or one subagent) and one turn: the same
shell command (whitespace collapsed by the parser) run `thrash_repeats` times
within `thrash_window` consecutive tool calls, or `thrash_errors` consecutive
failed *attempts*. The tool calls of one response are a parallel batch: when
one fails, Claude Code cancels its siblings ("Sibling tool call errored",
`is_error` true), so a batch is one attempt however many of its results
failed. Overlapping findings merge into one span, never beyond its turn; the
alert names the model(s) that issued the failing calls and prices the
responses inside the span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from tiermon.ingest.config import Thresholds
from tiermon.ingest.formatting import money_part
from tiermon.ingest.rows import TOOL_SHELL
from tiermon.ingest.signals.base import Alert, Event, Response, SessionRows, priced_sum, short, turn_at

BASH = TOOL_SHELL


@dataclass
class Thrash:
    agent_id: str | None
    start: datetime
    end: datetime
    repeats: int = 0
    command: str | None = None
    errors: int = 0
    """Consecutive failed attempts (a parallel batch counts once)."""
    tool_calls: int = 0
    cost: float | None = 0.0
    unpriced_tokens: int = 0
    response_count: int = 0
    commands: list[str] = field(default_factory=list)
    turn: int = 0
    models: list[str] = field(default_factory=list)
    """The models that issued the failing (or repeated) calls."""
    failed_results: int = 0
    """Failing tool results inside the span, cancelled siblings included."""


@dataclass
class _Attempt:
    """The tool calls of one response: they run, and fail, together."""

    calls: list[Event]
    failed: int = 0

    @property
    def start(self) -> datetime:
        return self.calls[0].ts


def find_thrash(rows: SessionRows, thresholds: Thresholds, prompt_times: list[datetime] | None = None) -> list[Thrash]:
    """Every thrash span of every chain, each inside one turn (turns cut at `prompt_times`)."""
    times = prompt_times or []
    responses = rows.chain_responses()
    out: list[Thrash] = []
    for chain, events in rows.chains().items():
        chain_responses = responses.get(chain, [])
        results = {e.tool_use_id: e for e in events if e.kind == "tool_result" and e.tool_use_id}
        calls = [e for e in events if e.kind == "tool_use"]
        for turn, turn_calls in groupby(calls, key=lambda c: turn_at(times, c.ts)):
            found = _turn_thrash(list(turn_calls), results, chain_responses, thresholds)
            for span in found:
                span.agent_id, span.turn = chain, turn
            out += found
    return sorted(out, key=lambda t: t.start)


def _turn_thrash(
    calls: list[Event], results: dict[str, Event], responses: list[Response], th: Thresholds
) -> list[Thrash]:
    attempts = _attempts(calls, results)
    spans = _repeats(calls, results, th) + _failed_runs(attempts, results, th)
    by_message = {r.message_id: r for r in responses if r.message_id}
    merged = _merge(spans)
    for span in merged:
        inside_calls = [c for c in calls if span.start <= c.ts <= span.end]
        span.tool_calls = len(inside_calls)
        span.failed_results = sum(1 for c in inside_calls if _failed(c, results))
        issuers = [c for c in inside_calls if _failed(c, results)] if span.errors else inside_calls
        span.models = list(dict.fromkeys(m for c in issuers if (m := _issuer_model(c, by_message, responses))))
        inside = [r for r in responses if span.start <= r.ts <= span.end]
        span.cost, span.unpriced_tokens = priced_sum(inside)
        span.response_count = len(inside)
    return merged


def _attempts(calls: list[Event], results: dict[str, Event]) -> list[_Attempt]:
    """Calls grouped by the response that made them (a call without a message id stands alone)."""
    attempts: dict[str, _Attempt] = {}
    for c in calls:
        key = c.message_id or f"call:{c.tool_use_id or id(c)}"
        attempt = attempts.setdefault(key, _Attempt([]))
        attempt.calls.append(c)
        attempt.failed += 1 if _failed(c, results) else 0
    return sorted(attempts.values(), key=lambda a: a.start)


def _failed(call: Event, results: dict[str, Event]) -> bool:
    result = results.get(call.tool_use_id or "")
    return bool(result is not None and result.is_error)


def _issuer_model(call: Event, by_message: dict[str, Response], responses: list[Response]) -> str | None:
    """The model of the response that made `call`: by message id, else the first response at or after it."""
    r = by_message.get(call.message_id or "")
    if r is None:
        r = next((x for x in responses if x.ts >= call.ts), None)
    return r.model if r is not None else None


def _end(calls: list[Event], results: dict[str, Event]) -> datetime:
    """When the last of `calls` came back (its result), or was made."""
    return max(max(c.ts, results[c.tool_use_id].ts) if c.tool_use_id in results else c.ts for c in calls)


def _repeats(calls: list[Event], results: dict[str, Event], th: Thresholds) -> list[Thrash]:
    """Clusters of one shell command dense enough: `repeats` runs within `window` consecutive calls."""
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
            first = calls[cluster[0]]
            end = _end([calls[i] for i in cluster], results)
            spans.append(Thrash(None, first.ts, end, repeats=len(cluster), command=command, commands=[command]))
    return spans


def _clusters(indexes: list[int], window: int) -> list[list[int]]:
    out: list[list[int]] = []
    for i in indexes:
        if out and i - out[-1][-1] < window:
            out[-1].append(i)
        else:
            out.append([i])
    return out


def _failed_runs(attempts: list[_Attempt], results: dict[str, Event], th: Thresholds) -> list[Thrash]:
    """Runs of consecutive failed attempts: a batch whose siblings were cancelled is one failure."""
    spans = []
    run: list[_Attempt] = []
    for a in [*attempts, None]:
        if a is not None and a.failed:
            run.append(a)
            continue
        if len(run) >= th.thrash_errors:
            spans.append(Thrash(None, run[0].start, _end(run[-1].calls, results), errors=len(run)))
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
            parts.append(f"{t.errors} failed attempts in a row")
        where = f"in subagent {t.agent_id}" if t.agent_id else "on the main chain"
        by = f" by {', '.join(t.models)}" if t.models else ""
        cost = money_part(t.cost, t.unpriced_tokens)
        alerts.append(
            Alert(
                kind="thrash", severity="warn", start=t.start, end=t.end, agent_id=t.agent_id, turn=t.turn,
                message=f"Thrash {where}{by}: {' and '.join(parts)} ({t.tool_calls} tool calls, {cost})",
                figures={
                    "repeats": t.repeats, "command": t.command, "commands": t.commands,
                    "failed_attempts": t.errors, "failed_results": t.failed_results, "tool_calls": t.tool_calls,
                    "responses": t.response_count, "models": t.models,
                    "cost_usd": round(t.cost, 6) if t.cost is not None else None,
                    "unpriced_tokens": t.unpriced_tokens,
                },
                discriminator=short(t.command, 40) if t.command else "errors",
            )
        )  # fmt: skip
    return alerts
