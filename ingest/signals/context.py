"""Provides context growth and compactions (SPEC §4.5).

Per main-chain response, context = input + cache read + cache writes,
against the model's window. A run of responses at or above `context_alert`
of the window is one `context_high` alert; every `compact_boundary` is a
`compaction` alert with its trigger, the tokens before and after, and what
the compaction agent cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tiermon.ingest.config import Thresholds
from tiermon.ingest.formatting import money
from tiermon.ingest.pricing import PriceTable
from tiermon.ingest.signals.base import Alert, Response, SessionRows
from tiermon.ingest.signals.costs import context_window
from tiermon.ingest.signals.subagents import Agent


@dataclass(frozen=True, slots=True)
class Compaction:
    ts: datetime
    trigger: str | None
    pre_tokens: int | None
    post_tokens: int | None
    cost: float | None
    agent_id: str | None


def context_alerts(rows: SessionRows, thresholds: Thresholds, prices: PriceTable) -> list[Alert]:
    alerts = []
    run: list[tuple[Response, int]] = []
    for r in [*rows.main, None]:
        window = context_window(prices, r.model) if r is not None else 0
        if r is not None and r.context >= thresholds.context_alert * window:
            run.append((r, window))
            continue
        if run:
            alerts.append(_high(run, thresholds))
        run = []
    return alerts


def _high(run: list[tuple[Response, int]], thresholds: Thresholds) -> Alert:
    peak, window = max(run, key=lambda rw: rw[0].context / rw[1])
    share = peak.context / window
    return Alert(
        kind="context_high", severity="warn", start=run[0][0].ts, end=run[-1][0].ts,
        message=(
            f"Context at {share:.0%} of the {window // 1000}k window ({peak.context:,} tokens on {peak.model}); "
            f"{len(run)} response(s) at or above {thresholds.context_alert:.0%}"
        ),
        figures={
            "peak_tokens": peak.context, "context_window": window, "peak_share": round(share, 4),
            "model": peak.model, "responses": len(run), "threshold": thresholds.context_alert,
        },
    )  # fmt: skip


def find_compactions(rows: SessionRows, agents: list[Agent]) -> list[Compaction]:
    """Every main-chain compact_boundary, with the context after it and its compaction agent's cost."""
    boundaries = [
        e for e in rows.main_events if e.kind == "system" and e.subtype == "compact_boundary"
    ]
    compactors = [a for a in agents if a.agent_type == "compact"]
    out = []
    previous: datetime | None = None
    for b in boundaries:
        after = next((r for r in rows.main if r.ts > b.ts), None)
        ran = [
            a
            for a in compactors
            if (previous is None or a.first_ts > previous) and a.first_ts <= b.ts
        ]
        cost = sum(r.cost or 0.0 for a in ran for r in a.responses) if ran else None
        out.append(
            Compaction(
                ts=b.ts, trigger=b.trigger, pre_tokens=b.pre_tokens,
                post_tokens=after.context if after is not None else None, cost=cost,
                agent_id=ran[-1].agent_id if ran else None,
            )
        )  # fmt: skip
        previous = b.ts
    return out


def compaction_alerts(compactions: list[Compaction]) -> list[Alert]:
    alerts = []
    for c in compactions:
        text = f"Context compacted ({c.trigger or 'unknown trigger'})"
        if c.pre_tokens:
            text += f" at {c.pre_tokens:,} tokens"
        if c.post_tokens is not None:
            text += f", next request {c.post_tokens:,} tokens"
        if c.cost is not None:
            text += f"; the compaction call cost {money(c.cost)}"
        alerts.append(
            Alert(
                kind="compaction", severity="info", start=c.ts, end=c.ts, message=text,
                figures={
                    "trigger": c.trigger, "pre_tokens": c.pre_tokens, "post_tokens": c.post_tokens,
                    "compaction_cost_usd": round(c.cost, 6) if c.cost is not None else None,
                    "compaction_agent": c.agent_id,
                },
            )
        )  # fmt: skip
    return alerts
