"""Provides escalation and de-escalation advice per turn (SPEC §4.7).

Escalate: a Haiku turn (to Sonnet) or a Sonnet turn (to Opus) that holds a
thrash, needless asks (`escalate_needless_asks` within the churn window) or
re-read drift. De-escalate: an Opus or Sonnet turn that was simple (no tool
error, few tool calls, short output, small context), to Haiku.

Each place shows what the turn's main chain cost and what the *same tokens*
would have cost on the other tier's reference model (`PriceTable.reference`).
That re-prices tokens; it does not predict the conversation another model
would have had, and every row says so in `figures.note`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tiermon.ingest.config import Thresholds
from tiermon.ingest.pricing import PriceTable
from tiermon.ingest.signals.base import Response, responses_inside, short, short_path
from tiermon.ingest.signals.costs import COUNTERFACTUAL_NOTE, reprice
from tiermon.ingest.signals.reread import Reread
from tiermon.ingest.signals.thrash import Thrash
from tiermon.ingest.signals.turns import Turn

NEXT_TIER = {"haiku": "sonnet", "sonnet": "opus"}
SIMPLE_TIERS = ("opus", "sonnet")


@dataclass(frozen=True, slots=True)
class Advice:
    kind: str
    from_tier: str
    to_tier: str
    to_model: str
    turn: int
    start: datetime
    end: datetime
    cost: float
    counterfactual: float
    reason: str
    figures: dict[str, Any]

    @property
    def saving(self) -> float:
        return self.cost - self.counterfactual


def find_advice(
    turns: list[Turn],
    thrashes: list[Thrash],
    rereads: list[Reread],
    needless_window: dict[int, int],
    thresholds: Thresholds,
    prices: PriceTable,
) -> list[Advice]:
    out = []
    main_thrash = [t for t in thrashes if t.agent_id is None]
    main_rereads = [r for r in rereads if r.agent_id is None]
    for turn in turns:
        tier = turn.tier
        if turn.n == 0 or tier is None or not turn.priced or not turn.responses:
            continue
        if tier in NEXT_TIER:
            advice = _escalate(
                turn, tier, main_thrash, main_rereads, needless_window, thresholds, prices
            )
            if advice is not None:
                out.append(advice)
        if tier in SIMPLE_TIERS and _simple(turn, thresholds):
            advice = _deescalate(turn, tier, prices)
            if advice is not None:
                out.append(advice)
    return out


def _escalate(
    turn: Turn, tier: str, thrashes: list[Thrash], rereads: list[Reread], needless_window: dict[int, int],
    thresholds: Thresholds, prices: PriceTable,
) -> Advice | None:  # fmt: skip
    reasons: list[str] = []
    figures: dict[str, Any] = {}
    wasted: list[Response | None] = []
    basis: list[str] = []
    held = [t for t in thrashes if t.start <= turn.end and t.end >= turn.start]
    if held:
        worst = max(held, key=lambda t: (t.repeats, t.errors))
        reasons.append(_thrash_reason(worst))
        spans = [(max(t.start, turn.start), min(t.end, turn.end)) for t in held]
        wasted += responses_inside(turn.responses, spans)
        basis.append("responses inside the thrash span")
        figures["thrash"] = {"spans": len(held), "repeats": worst.repeats, "command": worst.command,
                             "consecutive_errors": worst.errors}  # fmt: skip
    asks = needless_window.get(turn.n, 0) if turn.needless_ask else 0
    if asks >= thresholds.escalate_needless_asks:
        reasons.append(f"{asks} needless questions within {thresholds.churn_window} turns")
        wasted += turn.responses[-1:]
        basis.append("the response that asked")
        figures["needless_asks"] = asks
    drift = [(r, [ts for ts in r.drift_reads if turn.start <= ts <= turn.end]) for r in rereads]
    drift = [(r, reads) for r, reads in drift if reads]
    if drift:
        reasons.append(
            "re-read "
            + ", ".join(f"{short_path(r.path, 40)} ×{len(r.reads)}" for r, _ in drift[:3])
        )
        wasted += [_issuer(turn.responses, ts) for _, reads in drift for ts in reads]
        basis.append("the responses that re-read a file")
        figures["reread_files"] = [{"file_path": r.path, "reads": len(r.reads)} for r, _ in drift]
    if not reasons:
        return None
    to_tier = NEXT_TIER[tier]
    unique = {id(r): r for r in wasted if r is not None}
    figures["waste_usd"] = round(sum(r.cost or 0.0 for r in unique.values()), 6)
    figures["waste_responses"] = len(unique)
    figures["waste_basis"] = "; ".join(basis)
    return _advice(
        "escalate",
        turn,
        tier,
        to_tier,
        lambda r: r.tier == tier,
        f"{tier.capitalize()} turn struggled: " + "; ".join(reasons),
        figures,
        prices,
    )


def _thrash_reason(t: Thrash) -> str:
    if t.repeats:
        return f'ran "{short(t.command, 40)}" {t.repeats} times'
    return f"{t.errors} tool calls failed in a row"


def _issuer(responses: list[Response], ts: datetime) -> Response | None:
    """The response that made a tool call at `ts`: the first one timed at or after it."""
    return next((r for r in responses if r.ts >= ts), None)


def _simple(turn: Turn, th: Thresholds) -> bool:
    return (
        turn.tool_errors == 0
        and turn.tool_calls <= th.deescalate_max_tool_calls
        and turn.output_tokens <= th.deescalate_max_output
        and turn.max_context <= th.deescalate_max_context
    )


def _deescalate(turn: Turn, tier: str, prices: PriceTable) -> Advice | None:
    reason = (
        f"Simple {tier.capitalize()} turn: {turn.tool_calls} tool call(s), no tool error, "
        f"{turn.output_tokens:,} output tokens, context {turn.max_context:,}"
    )
    advice = _advice(
        "de-escalate", turn, tier, "haiku", lambda r: r.tier in SIMPLE_TIERS, reason, {}, prices
    )
    return advice if advice is not None and advice.saving > 0 else None


def _advice(
    kind: str, turn: Turn, from_tier: str, to_tier: str, repriced: Any, reason: str,
    figures: dict[str, Any], prices: PriceTable,
) -> Advice | None:  # fmt: skip
    ref = prices.reference(to_tier)
    if ref is None:
        return None
    counterfactual = 0.0
    moved = 0
    for r in turn.responses:
        alt = reprice(prices, ref.model, r) if repriced(r) else r.cost
        if alt is None:
            return None
        counterfactual += alt
        moved += 1 if repriced(r) else 0
    figures.update(
        {
            "responses": len(turn.responses), "repriced_responses": moved, "tool_calls": turn.tool_calls,
            "tool_errors": turn.tool_errors, "output_tokens": turn.output_tokens, "max_context": turn.max_context,
            "from_models": turn.models, "counterfactual_model": ref.model,
            "subagent_cost_usd": round(turn.cost - turn.main_cost, 6),
            "note": COUNTERFACTUAL_NOTE.format(model=ref.model),
        }
    )  # fmt: skip
    return Advice(
        kind=kind, from_tier=from_tier, to_tier=to_tier, to_model=ref.model, turn=turn.n,
        start=turn.start, end=turn.end, cost=turn.main_cost, counterfactual=counterfactual,
        reason=reason, figures=figures,
    )  # fmt: skip
