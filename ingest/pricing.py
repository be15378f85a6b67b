"""The price table in force and the cost rules of SPEC §3.

Prices are data: the table shipped in the package, with the user's own file
laid over it model by model. Costs are computed in SQL from the `prices`
table (one vectorised expression for ingest and for re-pricing) and in Python
for what-if figures; tests hold the two to the same answers.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tiermon.ingest.models import model_base, tier_of

LONG_CONTEXT_THRESHOLD = 200_000
"""Prompt tokens above which a long-context rate applies to the whole request."""
US_GEO_MULTIPLIER = 1.1
BATCH_MULTIPLIER = 0.5


class PriceFileError(ValueError):
    """A price file that cannot be used; its message is one line for the user."""


@dataclass(frozen=True)
class Rates:
    input: float
    output: float
    write_5m: float
    write_1h: float
    cache_read: float


@dataclass(frozen=True)
class Price:
    model: str
    tier: str
    rates: Rates
    long_context: Rates | None
    fast_multiplier: float
    context_window: int

    def as_row(self) -> dict[str, Any]:
        lc = self.long_context
        return {
            "model": self.model, "tier": self.tier,
            "input": self.rates.input, "output": self.rates.output,
            "write_5m": self.rates.write_5m, "write_1h": self.rates.write_1h,
            "cache_read": self.rates.cache_read,
            "lc_input": lc.input if lc else None, "lc_output": lc.output if lc else None,
            "lc_write_5m": lc.write_5m if lc else None, "lc_write_1h": lc.write_1h if lc else None,
            "lc_cache_read": lc.cache_read if lc else None,
            "fast_multiplier": self.fast_multiplier, "context_window": self.context_window,
        }  # fmt: skip


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, Price]
    version: str
    sources: tuple[str, ...]
    reference_models: dict[str, str]
    """Tier -> the model a what-if prices on ("the same tokens on Haiku")."""

    @property
    def fingerprint(self) -> str:
        """Changes whenever any rate changes, so stored costs know to be recomputed."""
        rows = [p.as_row() for p in sorted(self.prices.values(), key=lambda p: p.model)]
        return hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]

    def reference(self, tier: str) -> Price | None:
        model = self.reference_models.get(tier)
        return self.lookup(model) if model else None

    def lookup(self, model: str) -> Price | None:
        """Exact id first, then without a date or context suffix."""
        return self.prices.get(model) or self.prices.get(model_base(model))

    def cost(
        self,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read: int = 0,
        write_5m: int = 0,
        write_1h: int = 0,
        speed: str | None = None,
        geo: str | None = None,
        batch: bool = False,
    ) -> float | None:
        """USD for one request, or None when the model has no price."""
        price = self.lookup(model)
        if price is None:
            return None
        prompt = input_tokens + cache_read + write_5m + write_1h
        rates = price.rates
        if price.long_context is not None and prompt > LONG_CONTEXT_THRESHOLD:
            rates = price.long_context
        usd = (
            input_tokens * rates.input
            + output_tokens * rates.output
            + write_5m * rates.write_5m
            + write_1h * rates.write_1h
            + cache_read * rates.cache_read
        ) / 1e6
        if speed == "fast":
            usd *= price.fast_multiplier
        if geo == "us":
            usd *= US_GEO_MULTIPLIER
        if batch:
            usd *= BATCH_MULTIPLIER
        return usd


COST_SQL = f"""
(CASE WHEN p.lc_input IS NOT NULL
       AND r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens
           > {LONG_CONTEXT_THRESHOLD}
  THEN r.input_tokens * p.lc_input + r.output_tokens * p.lc_output
     + r.cache_write_5m_tokens * p.lc_write_5m + r.cache_write_1h_tokens * p.lc_write_1h
     + r.cache_read_tokens * p.lc_cache_read
  ELSE r.input_tokens * p.input + r.output_tokens * p.output
     + r.cache_write_5m_tokens * p.write_5m + r.cache_write_1h_tokens * p.write_1h
     + r.cache_read_tokens * p.cache_read
 END) / 1e6
 * (CASE WHEN r.speed = 'fast' THEN coalesce(p.fast_multiplier, 1) ELSE 1 END)
 * (CASE WHEN r.inference_geo = 'us' THEN {US_GEO_MULTIPLIER} ELSE 1 END)
 * (CASE WHEN r.is_batch THEN {BATCH_MULTIPLIER} ELSE 1 END)
"""
"""Cost of a response row `r` priced by row `p` of the prices table (NULL when p is missing)."""


def load_price_table(user_file: Path | None = None) -> PriceTable:
    """The shipped table, with the user's file (if any) laid over it model by model."""
    shipped = resources.files("tiermon.ingest").joinpath("prices.toml").read_text("utf-8")
    data = _parse(shipped, "built-in prices.toml")
    prices = _prices(data, "built-in prices.toml")
    version = str(data.get("version", "?"))
    sources = ["built-in " + version]
    if user_file is not None and user_file.is_file():
        try:
            user = _parse(user_file.read_text("utf-8"), str(user_file))
        except OSError as exc:
            raise PriceFileError(f"cannot read price file {user_file}: {exc.strerror}") from exc
        prices.update(_prices(user, str(user_file)))
        version = f"{version}+{user.get('version', 'user')}"
        sources.append(str(user_file))
    reference = {**data.get("reference_models", {})}
    if user_file is not None and user_file.is_file():
        reference.update(user.get("reference_models", {}))
    return PriceTable(prices=prices, version=version, sources=tuple(sources), reference_models=reference)


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(f"price file {where} is not valid TOML: {exc}") from exc


def _prices(data: dict[str, Any], where: str) -> dict[str, Price]:
    out: dict[str, Price] = {}
    for model, spec in (data.get("models") or {}).items():
        try:
            out[model] = Price(
                model=model,
                tier=str(spec.get("tier") or tier_of(model)),
                rates=_rates(spec),
                long_context=_rates(spec["long_context"]) if "long_context" in spec else None,
                fast_multiplier=float(spec.get("fast_multiplier", 1.0)),
                context_window=int(spec.get("context_window", 200_000)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PriceFileError(
                f"price file {where}: model {model!r} needs input, output, write_5m, write_1h and cache_read ({exc})"
            ) from exc
    return out


def _rates(spec: dict[str, Any]) -> Rates:
    return Rates(
        input=float(spec["input"]),
        output=float(spec["output"]),
        write_5m=float(spec["write_5m"]),
        write_1h=float(spec["write_1h"]),
        cache_read=float(spec["cache_read"]),
    )
