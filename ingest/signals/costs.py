"""Provides the price arithmetic the signals need beyond stored costs: windows, what-ifs, rebuilds.

Counterfactuals here re-price the *same tokens* on another model. They do not
predict the conversation another model would have had (it might have needed
more turns, or fewer); every caller says so where it shows the figure.
"""

from __future__ import annotations

from tiermon.ingest.pricing import PriceTable
from tiermon.ingest.signals.base import Response

DEFAULT_WINDOW = 200_000
LONG_WINDOW = 1_000_000
COUNTERFACTUAL_NOTE = (
    "re-prices the same tokens on {model}; it does not predict a different conversation"
)
"""Said wherever a counterfactual figure is shown."""


def context_window(prices: PriceTable, model: str) -> int:
    """The model's window: 1M when asked for with `[1m]`, else the price table's, else 200k."""
    if model.endswith("[1m]"):
        return LONG_WINDOW
    price = prices.lookup(model)
    return price.context_window if price is not None and price.context_window else DEFAULT_WINDOW


def reprice(prices: PriceTable, model: str, r: Response) -> float | None:
    """What response `r`'s tokens would have cost on `model`."""
    return prices.cost(
        model, input_tokens=r.input, output_tokens=r.output, cache_read=r.read, write_5m=r.w5,
        write_1h=r.w1h, speed=r.speed, geo=r.geo, batch=r.batch, at=r.ts,
    )  # fmt: skip


def rebuild_costs(prices: PriceTable, r: Response) -> tuple[float, float] | None:
    """(what r's cache writes cost, what reading the same tokens from cache would have cost)."""
    price = prices.lookup(r.model, r.ts)
    if price is None:
        return None
    rates = price.rates_for(r.context)
    factor = price.factor(speed=r.speed, geo=r.geo, batch=r.batch)
    written = (r.w5 * rates.write_5m + r.w1h * rates.write_1h) / 1e6 * factor
    read = r.writes * rates.cache_read / 1e6 * factor
    return written, read
