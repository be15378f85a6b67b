"""Provides policy replay (SPEC §4.11): what a period would have cost under a tier policy.

Each turn of the period is put on the rung the policy gives it, and its
main-chain tokens are re-priced on that rung's reference model (subagents keep
their cost). It is a re-pricing of the same tokens, not a prediction of the
conversations another model would have had; beside it stand the struggle
rates the scorecard measured on the rungs turns were moved down to.

Pricing is vectorised: each reference model's per-token rates are read once
through `PriceTable.cost`, then applied to the whole frame of turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiermon.ingest.models import RUNGS, TIER_ORDER
from tiermon.ingest.pricing import LONG_CONTEXT_THRESHOLD
from tiermon.ingest.scorecard import rung_rates
from tiermon.ingest.signals.advice import ladder, reference

if TYPE_CHECKING:
    import polars as pl

    from tiermon.ingest.pricing import PriceTable

POLICIES = ("all-small", "all-mid", "all-large", "cheapest-first", "mid-first")
"""`all-<rung>` (also spelt all-haiku, all-sonnet, all-opus); cheapest-first: the lowest rung, struggling
turns one rung up as observed; mid-first: the middle rung, the top one where the session escalated."""
ALIASES = {"all-haiku": "all-small", "all-sonnet": "all-mid", "all-opus": "all-large"}
NOTE = (
    "A re-pricing: each turn's main-chain tokens priced on the policy's rung (its reference model); "
    "it does not predict the conversation another model would have had. Estimates at list price."
)
TOKEN_CLASSES = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens")
_ORDER = {r: i for i, r in enumerate(RUNGS)}
_PROBE = 100_000
_LONG_PROBE = 300_000


class PolicyError(ValueError):
    """A policy name tiermon does not know; the message lists the ones it does."""


@dataclass(frozen=True, slots=True)
class UnitRates:
    """USD per token of each class, below and above the long-context threshold, for one model."""

    model: str
    short: tuple[float, float, float, float, float]
    long: tuple[float, float, float, float, float]


def unit_rates(prices: PriceTable, model: str) -> UnitRates | None:
    """Per-token rates read back from `PriceTable.cost` (the one public pricing call), once per model."""

    def cost(input_tokens: int = 0, output_tokens: int = 0, cache_read: int = 0, write_5m: int = 0,
             write_1h: int = 0) -> float | None:  # fmt: skip
        return prices.cost(model, input_tokens=input_tokens, output_tokens=output_tokens, cache_read=cache_read,
                           write_5m=write_5m, write_1h=write_1h)  # fmt: skip

    base_long = cost(input_tokens=_LONG_PROBE)
    probes_short = [cost(input_tokens=_PROBE), cost(output_tokens=_PROBE), cost(cache_read=_PROBE),
                    cost(write_5m=_PROBE), cost(write_1h=_PROBE)]  # fmt: skip
    if base_long is None or any(p is None for p in probes_short):
        return None
    with_long_output = cost(input_tokens=_LONG_PROBE, output_tokens=_PROBE)
    probes_long = [base_long / _LONG_PROBE, ((with_long_output or 0.0) - base_long) / _PROBE]
    for long_cost in (cost(cache_read=_LONG_PROBE), cost(write_5m=_LONG_PROBE), cost(write_1h=_LONG_PROBE)):
        probes_long.append((long_cost or 0.0) / _LONG_PROBE)
    short = tuple(p / _PROBE for p in probes_short if p is not None)
    return UnitRates(model, short, tuple(probes_long))  # type: ignore[arg-type]


def target_rungs(turns: pl.DataFrame, policy: str) -> pl.Series:
    """The rung index (0 small … 2 large) the policy puts each turn on."""
    import polars as pl

    policy = ALIASES.get(policy, policy)
    if policy.startswith("all-") and policy[4:] in RUNGS:
        return pl.Series("target", [RUNGS.index(policy[4:])] * turns.height, dtype=pl.Int64)
    order = turns["rung"].replace_strict(_ORDER, default=None, return_dtype=pl.Int64)
    if policy == "cheapest-first":
        return pl.Series("target", turns["struggled"].fill_null(False).cast(pl.Int64))
    if policy == "mid-first":
        # The top rung stays where the session had moved up to it from a lower rung (it escalated).
        frame = turns.select("session_id").with_columns(order=order)
        lowest_before = frame.select(pl.col("order").cum_min().over("session_id"))["order"]
        escalated = (order == 2) & (lowest_before < 2)
        return pl.Series("target", escalated.fill_null(False).cast(pl.Int64) + 1)
    raise PolicyError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")


def replay(turns: pl.DataFrame, prices: PriceTable, policy: str) -> dict[str, Any]:
    """The period under `policy` beside what it did cost, with the scorecard's struggle rates."""
    import polars as pl

    target = target_rungs(turns, policy)
    frame = turns.with_columns(target=target).with_columns(
        actual_order=pl.col("rung").replace_strict(_ORDER, default=None, return_dtype=pl.Int64)
    )
    frame = frame.with_columns(replayed=_repriced(frame, prices))
    moved = frame.filter(pl.col("actual_order").is_not_null() & (pl.col("target") != pl.col("actual_order")))
    comparable = frame.filter(pl.col("cost_usd").is_not_null() & pl.col("replayed").is_not_null())
    rates = rung_rates(turns)
    predicted = {}
    for rung_index, rung in enumerate(RUNGS):
        down = moved.filter((pl.col("target") == rung_index) & (pl.col("actual_order") > rung_index)).height
        if down:
            rate = rates.get(rung)
            predicted[rung] = {
                "turns_moved_down": down,
                "struggle_rate": rate.as_dict() if rate is not None else None,
                "expected_struggling_turns": round(down * rate.count / rate.base, 1) if rate and rate.base else None,
            }
    actual, replayed = float(comparable["cost_usd"].sum() or 0.0), float(comparable["replayed"].sum() or 0.0)
    return {
        "policy": ALIASES.get(policy, policy), "turns": frame.height, "turns_repriced": moved.height,
        "turns_moved_down": int((moved["target"] < moved["actual_order"]).sum()),
        "turns_moved_up": int((moved["target"] > moved["actual_order"]).sum()),
        "actual_usd": round(float(actual), 6), "replayed_usd": round(float(replayed), 6),
        "difference_usd": round(float(replayed - actual), 6),
        "not_comparable_turns": frame.height - comparable.height,
        "predicted_struggle": predicted, "note": NOTE,
    }  # fmt: skip


def _repriced(frame: pl.DataFrame, prices: PriceTable) -> pl.Series:
    """Each turn's cost with its main chain on the target rung: the actual cost where the rung is unchanged."""
    import polars as pl

    out = frame["cost_usd"].cast(pl.Float64)
    for (tier, target), group in frame.with_row_index("i").group_by(["tier", "target"]):
        tier, target = str(tier), int(str(target))
        if TIER_ORDER.get(tier) == target:
            continue
        ref = reference(prices, ladder(tier)[target])
        rates = unit_rates(prices, ref.model) if ref is not None else None
        if rates is None:
            out = out.scatter(group["i"], None)
            continue
        out = out.scatter(group["i"], turn_costs(group, rates))
    return out


def _weighted(rates: tuple[float, ...]) -> pl.Expr:
    """Σ tokens of each class × its rate, per turn (one expression: a Series operation each took ~0.2 ms)."""
    import polars as pl

    return pl.sum_horizontal(
        pl.col(column).fill_null(0).cast(pl.Float64) * rate for column, rate in zip(TOKEN_CLASSES, rates, strict=True)
    )


def turn_costs(group: pl.DataFrame, rates: UnitRates) -> pl.Series:
    """Main-chain tokens at `rates` (long-context rates where the turn's mean request exceeds the threshold)."""
    import polars as pl

    long = pl.col("prompt_tokens") / pl.col("responses").clip(lower_bound=1) > LONG_CONTEXT_THRESHOLD
    main = pl.when(long).then(_weighted(rates.long)).otherwise(_weighted(rates.short))
    return group.select((main + pl.col("subagent_cost_usd").fill_null(0.0)).alias("replayed")).to_series()
