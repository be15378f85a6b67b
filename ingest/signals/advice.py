"""Provides escalation and de-escalation advice per turn (SPEC §4.7), on rungs, for every vendor.

Escalate: a turn below the top rung that struggled — a thrash, needless asks
(`escalate_needless_asks` within the churn window), re-read drift, an
interrupt followed by a correction, or `thrash_errors` failed attempts — to
the next rung of its vendor's ladder. The advice is blamed on the model that
issued the failing calls, and reads stronger where the session later moved up
a rung and the struggle stopped. De-escalate: a turn above the bottom rung
that was simple (no failed attempt, few tool calls, short output, and context
growth within `deescalate_max_context` of the session's own smallest request:
every real request carries a 26–58k preamble, so an absolute bound never holds).

Each place shows what the turn's main chain cost and what the *same tokens*
would have cost on the other rung's reference model (`PriceTable.reference`).
That re-prices tokens; it does not predict the conversation another model
would have had, and every row says so in `figures.note`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from tiermon.ingest.config import Thresholds
from tiermon.ingest.models import RUNG_OF, RUNGS, TIER_ORDER, tier_of
from tiermon.ingest.pricing import Price, PriceTable
from tiermon.ingest.signals.base import Response, priced_sum, responses_inside, short, short_path
from tiermon.ingest.signals.costs import COUNTERFACTUAL_NOTE, reprice
from tiermon.ingest.signals.reread import Reread
from tiermon.ingest.signals.thrash import Thrash
from tiermon.ingest.signals.turns import Turn

LADDERS = {"anthropic": ("haiku", "sonnet", "opus")}
"""Each vendor's own names for the rungs; any other vendor's ladder is small < mid < large."""


@dataclass(frozen=True, slots=True)
class Advice:
    kind: str
    from_tier: str
    to_tier: str
    to_model: str
    turn: int
    start: datetime
    end: datetime
    cost: float | None
    counterfactual: float | None
    reason: str
    figures: dict[str, Any]

    @property
    def saving(self) -> float | None:
        if self.cost is None or self.counterfactual is None:
            return None
        return self.cost - self.counterfactual


def ladder(tier: str) -> tuple[str, ...]:
    """The three rungs, in the names of `tier`'s vendor (haiku/sonnet/opus or small/mid/large)."""
    return LADDERS["anthropic"] if tier in LADDERS["anthropic"] else RUNGS


def step(tier: str, by: int) -> str | None:
    """The tier `by` rungs above (or below) `tier` on its vendor's ladder; None off the ladder."""
    order = TIER_ORDER.get(tier)
    if order is None or not 0 <= order + by < 3:
        return None
    return ladder(tier)[order + by]


def reference(prices: PriceTable, tier: str) -> Price | None:
    """The model a what-if prices `tier` on: the tier's own reference, else its rung's, else the
    Anthropic tier on the same rung (a re-pricing, named as such wherever it is shown)."""
    rung = RUNG_OF.get(tier, tier)
    for name in (tier, rung, LADDERS["anthropic"][RUNGS.index(rung)] if rung in RUNGS else None):
        ref = prices.reference(name) if name else None
        if ref is not None:
            return ref
    return None


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
    smallest = min((r.context for t in turns for r in t.responses), default=0)
    following = {t.n: u for t, u in pairwise(turns)}
    for turn in turns:
        tier = turn.tier
        if turn.n == 0 or tier is None or tier not in TIER_ORDER or not turn.responses:
            continue
        escalate = _escalate(turn, main_thrash, main_rereads, needless_window, following, thresholds, prices)
        if escalate is not None:
            out.append(escalate)
        elif TIER_ORDER[tier] > 0 and _simple(turn, smallest, thresholds):
            advice = _deescalate(turn, tier, smallest, prices)
            if advice is not None:
                out.append(advice)
    return out


def _escalate(
    turn: Turn, thrashes: list[Thrash], rereads: list[Reread], needless_window: dict[int, int],
    following: dict[int, Turn], thresholds: Thresholds, prices: PriceTable,
) -> Advice | None:  # fmt: skip
    reasons: list[str] = []
    figures: dict[str, Any] = {}
    wasted: list[Response | None] = []
    basis: list[str] = []
    blamed: list[str] = []
    held = [t for t in thrashes if t.turn == turn.n]
    if held:
        worst = max(held, key=lambda t: (t.repeats, t.errors))
        reasons.append(_thrash_reason(worst))
        spans = [(max(t.start, turn.start), min(t.end, turn.end)) for t in held]
        wasted += responses_inside(turn.responses, spans)
        basis.append("responses inside the thrash span")
        blamed += [m for t in held for m in t.models]
        figures["thrash"] = {"spans": len(held), "repeats": worst.repeats, "command": worst.command,
                             "failed_attempts": worst.errors, "models": worst.models}  # fmt: skip
    asks = needless_window.get(turn.n, 0) if turn.needless_ask else 0
    if asks >= thresholds.escalate_needless_asks:
        reasons.append(f"{asks} needless questions within {thresholds.churn_window} turns")
        wasted += turn.responses[-1:]
        basis.append("the response that asked")
        figures["needless_asks"] = asks
    drift = [(r, [ts for ts in r.drift_reads if turn.start <= ts <= turn.end]) for r in rereads]
    drift = [(r, reads) for r, reads in drift if reads]
    if drift:
        reasons.append("re-read " + ", ".join(f"{short_path(r.path, 40)} ×{len(r.reads)}" for r, _ in drift[:3]))
        wasted += [_issuer(turn.responses, ts) for _, reads in drift for ts in reads]
        basis.append("the responses that re-read a file")
        figures["reread_files"] = [{"file_path": r.path, "reads": len(r.reads)} for r, _ in drift]
    if turn.interrupts and turn.n + 1 in following:
        reasons.append(f"interrupted {turn.interrupts}× and corrected")
        wasted += turn.responses[-1:]
        basis.append("the response before the interrupt")
        figures["interrupts"] = turn.interrupts
    if not held and turn.failed_attempts >= thresholds.thrash_errors:
        reasons.append(f"{turn.failed_attempts} failed attempts")
        figures["failed_attempts"] = turn.failed_attempts
    if not reasons:
        return None
    tier = _blamed_tier(turn, blamed)
    to_tier = step(tier, +1) if tier else None
    if tier is None or to_tier is None:
        return None  # the struggle was the top rung's own: a stronger model is not on offer
    unique = {id(r): r for r in wasted if r is not None}
    waste, waste_unpriced = priced_sum(list(unique.values()))
    figures.update(
        waste_usd=_round(waste), waste_unpriced_tokens=waste_unpriced, waste_responses=len(unique),
        waste_basis="; ".join(basis), struggle_models=list(dict.fromkeys(blamed)) or turn.models,
    )
    reason = f"{tier.capitalize()} turn struggled: " + "; ".join(reasons)
    later = following.get(turn.n)
    if turn.escalated:
        figures["evidence"] = "recovered" if turn.recovered else "escalated"
        if turn.recovered:
            reason += " — the session later moved up a rung and the struggle stopped"
    elif later is not None:
        figures["evidence"] = "observed"
    return _advice("escalate", turn, tier, to_tier, lambda r: r.tier == tier, reason, figures, prices)


def _blamed_tier(turn: Turn, models: list[str]) -> str | None:
    """The tier to escalate from: the lowest of the models that made the failing calls, else the turn's."""
    tiers = [t for t in (tier_of(m) for m in models) if t in TIER_ORDER]
    if tiers:
        return min(tiers, key=lambda t: TIER_ORDER[t])
    return turn.tier


def _thrash_reason(t: Thrash) -> str:
    by = f" ({', '.join(t.models)})" if t.models else ""
    if t.repeats:
        return f'ran "{short(t.command, 40)}" {t.repeats} times{by}'
    return f"{t.errors} failed attempts in a row{by}"


def _issuer(responses: list[Response], ts: datetime) -> Response | None:
    """The response that made a tool call at `ts`: the first one timed at or after it."""
    return next((r for r in responses if r.ts >= ts), None)


def _simple(turn: Turn, smallest: int, th: Thresholds) -> bool:
    return (
        turn.failed_attempts == 0
        and turn.tool_calls <= th.deescalate_max_tool_calls
        and turn.output_tokens <= th.deescalate_max_output
        and turn.max_context - smallest <= th.deescalate_max_context
    )


def _deescalate(turn: Turn, tier: str, smallest: int, prices: PriceTable) -> Advice | None:
    to_tier = ladder(tier)[0]
    growth = turn.max_context - smallest
    reason = (
        f"Simple {tier.capitalize()} turn: {turn.tool_calls} tool call(s), no failed attempt, "
        f"{turn.output_tokens:,} output tokens, context {growth:,} above the session's smallest request"
    )
    figures = {"smallest_request": smallest, "context_growth": growth}
    advice = _advice(
        "de-escalate", turn, tier, to_tier, lambda r: TIER_ORDER.get(r.tier, 0) > 0, reason, figures, prices
    )
    if advice is None or (advice.saving is not None and advice.saving <= 0):
        return None
    return advice


def _advice(
    kind: str, turn: Turn, from_tier: str, to_tier: str, repriced: Callable[[Response], bool], reason: str,
    figures: dict[str, Any], prices: PriceTable,
) -> Advice | None:  # fmt: skip
    ref = reference(prices, to_tier)
    cost, unpriced = priced_sum(turn.responses)
    counterfactual: float | None = 0.0
    moved = 0
    for r in turn.responses:
        alt = reprice(prices, ref.model, r) if ref is not None and repriced(r) else r.cost
        if alt is None or counterfactual is None:
            counterfactual = None
            continue
        counterfactual += alt
        moved += 1 if repriced(r) else 0
    to_model = ref.model if ref is not None else f"({to_tier}: no reference model priced)"
    figures.update(
        {
            "responses": len(turn.responses), "repriced_responses": moved, "tool_calls": turn.tool_calls,
            "failed_attempts": figures.get("failed_attempts", turn.failed_attempts),
            "output_tokens": turn.output_tokens, "max_context": turn.max_context,
            "from_models": turn.models, "counterfactual_model": ref.model if ref is not None else None,
            "unpriced_tokens": unpriced, "subagent_cost_usd": _round(turn.cost - turn.main_cost),
            "counterfactual": "re-pricing", "note": COUNTERFACTUAL_NOTE.format(model=to_model),
        }
    )  # fmt: skip
    if unpriced and cost is not None and not turn.priced:
        cost = None  # part of the turn has no price: a partial sum beside a whole counterfactual misleads
    return Advice(
        kind=kind, from_tier=from_tier, to_tier=to_tier, to_model=to_model, turn=turn.n,
        start=turn.start, end=turn.end, cost=cost, counterfactual=counterfactual,
        reason=reason, figures=figures,
    )  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
