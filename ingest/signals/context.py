"""Provides context growth and compactions (SPEC §4.5).

Per main-chain response, context = input + cache read + cache writes,
against the *limit* where the agent compacts (`limits`), not the nominal
window. A run of responses at or above `context_alert` of the limit is one
`context_high` alert, so it comes before the auto-compaction; every `compact_boundary` is a
`compaction` alert with its trigger, the tokens before and after, and what
the compaction agent cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tiermon.ingest.config import Thresholds
from tiermon.ingest.formatting import money
from tiermon.ingest.pricing import PriceTable
from tiermon.ingest.signals.base import Alert, Response, SessionRows, priced_sum
from tiermon.ingest.signals.limits import Limits, response_limit
from tiermon.ingest.signals.subagents import Agent


@dataclass(frozen=True, slots=True)
class Compaction:
    ts: datetime
    trigger: str | None
    pre_tokens: int | None
    post_tokens: int | None
    cost: float | None
    agent_id: str | None


def context_alerts(rows: SessionRows, thresholds: Thresholds, prices: PriceTable, limits: Limits) -> list[Alert]:
    alerts = []
    run: list[tuple[Response, int, int]] = []
    for r in [*rows.main, None]:
        window, limit = response_limit(rows, r, prices, limits) if r is not None else (0, 0)
        if r is not None and r.context >= thresholds.context_alert * limit:
            run.append((r, window, limit))
            continue
        if run:
            alerts.append(_high(run, thresholds, limits))
        run = []
    return alerts


def _high(run: list[tuple[Response, int, int]], thresholds: Thresholds, limits: Limits) -> Alert:
    peak, window, limit = max(run, key=lambda rwl: rwl[0].context / rwl[2])
    share = peak.context / limit
    source = limits.source(peak.model, peak.agent, window)
    where = (
        "learned from your auto-compactions" if source == "learned" else f"{window // 1000}k window less the reserve"
    )
    return Alert(
        kind="context_high", severity="warn", start=run[0][0].ts, end=run[-1][0].ts,
        message=(
            f"Context at {share:.0%} of the {limit // 1000}k compaction point ({where}; {peak.context:,} tokens "
            f"on {peak.model}); {len(run)} response(s) at or above {thresholds.context_alert:.0%}"
        ),
        figures={
            "peak_tokens": peak.context, "context_window": window, "context_limit": limit, "limit_source": source,
            "peak_share": round(share, 4), "model": peak.model, "responses": len(run),
            "threshold": thresholds.context_alert,
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
        cost = priced_sum([r for a in ran for r in a.responses])[0] if ran else None
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
