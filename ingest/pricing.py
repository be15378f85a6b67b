"""The price table in force and the cost rules of SPEC §3.

Prices are data: genai-prices' snapshot compiled into rate rows
(`genai_rates`), tiermon's own `price_overrides.toml` where the package lacks
a rate SPEC §3 requires, and the user's file laid over both model by model.
Costs are computed in SQL from the `prices` table (one vectorised expression
for ingest and for re-pricing) and in Python for what-if figures. Both derive
from the rules below (`SURCHARGES`, the long-context choice, the date window),
so the two give the same answers; tests hold them to it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import tomllib
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from tiermon.ingest import genai_rates
from tiermon.ingest.genai_rates import ALWAYS_FROM, ALWAYS_TO, DEFAULT_WINDOW
from tiermon.ingest.models import model_base, tier_of

LONG_CONTEXT_THRESHOLD = 200_000
"""Prompt tokens above which a long-context rate applies to the whole request, unless a row says otherwise."""
OVERRIDES = "price_overrides.toml"
RATE_NAMES = ("input", "output", "write_5m", "write_1h", "cache_read")
TOKEN_COLUMNS = {
    "input": "input_tokens", "output": "output_tokens", "write_5m": "cache_write_5m_tokens",
    "write_1h": "cache_write_1h_tokens", "cache_read": "cache_read_tokens",
}  # fmt: skip
"""Rate -> the `responses` column it multiplies."""


@dataclass(frozen=True)
class Surcharge:
    """A multiplier on a whole request, chosen by one column of the response."""

    column: str
    value: str | bool
    label: str
    factor: float | None = None
    """A fixed factor, or None when the price row's `price_column` holds it."""
    price_column: str | None = None


SURCHARGES = (
    Surcharge("speed", "fast", "fast mode", price_column="fast_multiplier"),  # Opus 4.6/4.7 ×6: override file
    Surcharge("inference_geo", "us", "US-only inference", factor=1.1),
    Surcharge("is_batch", True, "batch", factor=0.5),  # Message Batches API
)
"""Every request-level multiplier, once: the SQL and the Python are both built from this."""


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
    """One model id's rates over one date window [valid_from, valid_to)."""

    model: str
    tier: str
    rates: Rates
    long_context: Rates | None
    fast_multiplier: float
    context_window: int
    vendor: str = "other"
    lc_threshold: int | None = None
    valid_from: datetime = ALWAYS_FROM
    valid_to: datetime = ALWAYS_TO
    source: str = ""
    """Where the rates came from: `genai-prices X.Y.Z`, `override: <url>`, or the user's file."""

    def covers(self, at: datetime | None) -> bool:
        """Whether a request at `at` falls in this window (no time: the current price)."""
        when = at.replace(tzinfo=None) if at is not None else UNDATED
        return self.valid_from <= when < self.valid_to

    def long(self, prompt: int) -> bool:
        """Whether a request with `prompt` tokens is priced whole at the long-context rates."""
        threshold = self.lc_threshold if self.lc_threshold is not None else LONG_CONTEXT_THRESHOLD
        return self.long_context is not None and prompt > threshold

    def rates_for(self, prompt: int) -> Rates:
        return self.long_context if self.long(prompt) and self.long_context is not None else self.rates

    def factors(self, *, speed: str | None, geo: str | None, batch: bool) -> list[float]:
        """The `SURCHARGES` that apply, in the order the SQL multiplies them."""
        seen = {"speed": speed, "inference_geo": geo, "is_batch": batch}
        return [
            s.factor if s.factor is not None else float(getattr(self, s.price_column or ""))
            for s in SURCHARGES
            if seen[s.column] == s.value
        ]

    def factor(self, *, speed: str | None, geo: str | None, batch: bool) -> float:
        """The product of the surcharges that apply."""
        return math.prod(self.factors(speed=speed, geo=geo, batch=batch))

    def as_row(self) -> dict[str, Any]:
        lc = self.long_context
        return {
            "model": self.model, "valid_from": self.valid_from, "valid_to": self.valid_to, "vendor": self.vendor,
            "tier": self.tier, **{n: getattr(self.rates, n) for n in RATE_NAMES},
            **{f"lc_{n}": getattr(lc, n) if lc else None for n in RATE_NAMES},
            "lc_threshold": self.lc_threshold if lc else None,
            "fast_multiplier": self.fast_multiplier, "context_window": self.context_window, "source": self.source,
        }  # fmt: skip


UNDATED = datetime(9999, 12, 30)
"""The time a response without one is priced at: the current window (SQL: `coalesce(r.ts, …)`)."""


@dataclass(frozen=True)
class PriceTable:
    windows: dict[str, tuple[Price, ...]]
    """Model id -> its prices, oldest window first."""
    version: str
    sources: tuple[str, ...]
    reference_models: dict[str, str]
    """Tier -> the model a what-if prices on ("the same tokens on Haiku")."""

    @property
    def prices(self) -> dict[str, Price]:
        """Each model id's current price."""
        return {model: rows[-1] for model, rows in self.windows.items()}

    def rows(self) -> list[Price]:
        return [p for model in sorted(self.windows) for p in self.windows[model]]

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever any rate changes, so stored costs know to be recomputed. Computed once per
        table (~10 ms: every row as JSON); the table is frozen."""
        rows = [p.as_row() for p in self.rows()]
        return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def reference(self, tier: str) -> Price | None:
        model = self.reference_models.get(tier)
        return self.lookup(model) if model else None

    def lookup(self, model: str, at: datetime | None = None) -> Price | None:
        """Exact id first, then without a date or context suffix, then by genai-prices' match rules."""
        key = self.key_for(model)
        rows = self.windows.get(key) if key else None
        if not rows:
            return None
        return next((p for p in rows if p.covers(at)), rows[-1])

    def key_for(self, model: str) -> str | None:
        """The id whose rows price `model` (SPEC §3 order), or None."""
        for key in (model, model_base(model)):
            if key in self.windows:
                return key
        resolved = genai_rates.resolve(model)
        return resolved if resolved in self.windows else None

    def with_models(self, models: list[str]) -> PriceTable:
        """This table plus a row set for each id only the match rules price (the store's equi-join needs them)."""
        extra: dict[str, tuple[Price, ...]] = {}
        for model in models:
            key = self.key_for(model)
            if key is not None and key not in (model, model_base(model)):
                extra[model] = tuple(replace(p, model=model) for p in self.windows[key])
        return replace(self, windows={**self.windows, **extra}) if extra else self

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
        at: datetime | None = None,
    ) -> float | None:
        """USD for one request at time `at`, or None when the model has no price."""
        price = self.lookup(model, at)
        if price is None:
            return None
        rates = price.rates_for(input_tokens + cache_read + write_5m + write_1h)
        usd = (
            input_tokens * rates.input
            + output_tokens * rates.output
            + write_5m * rates.write_5m
            + write_1h * rates.write_1h
            + cache_read * rates.cache_read
        ) / 1e6
        for factor in price.factors(speed=speed, geo=geo, batch=batch):
            usd *= factor  # one at a time, left to right, as COST_SQL: the floats then agree exactly
        return usd


PROMPT_SQL = "(r.input_tokens + r.cache_read_tokens + r.cache_write_5m_tokens + r.cache_write_1h_tokens)"
LONG_SQL = f"(p.lc_input IS NOT NULL AND {PROMPT_SQL} > coalesce(p.lc_threshold, {LONG_CONTEXT_THRESHOLD}))"
"""Whether response `r` is priced at price row `p`'s long-context rates (`Price.long`)."""


def rate_sql(name: str) -> str:
    """Row `p`'s rate `name` for response `r`, long-context or not (`Price.rates_for`)."""
    return f"(CASE WHEN {LONG_SQL} THEN p.lc_{name} ELSE p.{name} END)"


def surcharge_sql() -> str:
    """The product of `SURCHARGES` for response `r` priced by row `p` (`Price.factor`)."""
    terms = []
    for s in SURCHARGES:
        test = f"r.{s.column}" if s.value is True else f"r.{s.column} = '{s.value}'"
        factor = repr(s.factor) if s.factor is not None else f"coalesce(p.{s.price_column}, 1)"
        terms.append(f"(CASE WHEN {test} THEN {factor} ELSE 1 END)")
    return " * ".join(terms)


COST_SQL = (
    "(" + " + ".join(f"r.{TOKEN_COLUMNS[n]} * {rate_sql(n)}" for n in RATE_NAMES) + ") / 1e6 * " + surcharge_sql()
)
"""Cost of a response row `r` priced by row `p` of the prices table (NULL when p is missing)."""

FREE_SQL = "r.vendor = 'local'"
"""A local model's request costs nothing in API fees (SPEC §2.4): priced at $0, never unpriced."""
ROW_COST_SQL = f"CASE WHEN {FREE_SQL} THEN 0.0 ELSE {COST_SQL} END"
"""What a stored response costs: free when local, else COST_SQL (NULL when it has no price)."""
ROW_PRICED_SQL = f"({FREE_SQL} OR p.model IS NOT NULL)"
"""Whether a stored response has a price (a local model's $0 is one)."""

WINDOW_SQL = f"coalesce(r.ts, TIMESTAMP '{UNDATED}')"
"""The time a response is priced at (`UNDATED` when it has none): it must fall in [valid_from, valid_to)."""
CURRENT_SQL = f"p.valid_to = TIMESTAMP '{ALWAYS_TO}'"
"""Price row `p` is its model's current one (for what does not depend on a date: the context window)."""


def load_price_table(user_file: Path | None = None, cache_dir: Path | None = None) -> PriceTable:
    """genai-prices' rates with tiermon's overrides, then the user's file (if any) model by model.

    With `cache_dir`, the compiled package table is kept there between runs: importing
    genai-prices and compiling its snapshot costs about half a second, and every report
    would pay it. The cache is keyed on the package's data file, the overrides and this
    code, so it can only ever be as old as they are.
    """
    table = _cached_compiled(cache_dir) if cache_dir is not None else _compiled()
    if user_file is None or not user_file.is_file():
        return table
    try:
        text = user_file.read_text("utf-8")
    except OSError as exc:
        raise PriceFileError(f"cannot read price file {user_file}: {exc.strerror}") from exc
    user = _parse(text, str(user_file))
    mine = {m: (p,) for m, p in _prices(user, str(user_file), source=str(user_file)).items()}
    return PriceTable(
        windows={**table.windows, **mine},
        version=f"{table.version}+{user.get('version', 'user')}",
        sources=(*table.sources, str(user_file)),
        reference_models={**table.reference_models, **_reference(user, str(user_file))},
    )


CACHE_PREFIX = "price-table-"


_LOADED: dict[Path, PriceTable] = {}
"""Compiled tables this process read, by cache file: a resident process (`tiermon serve`, the dashboard)
loads the table for every pass, and decoding the file cost each ~10 ms."""


def _cached_compiled(cache_dir: Path) -> PriceTable:
    key = _compile_key()
    path = cache_dir / f"{CACHE_PREFIX}{key}.json"
    if path in _LOADED:
        return _LOADED[path]
    try:
        _LOADED[path] = _table_from_json(path.read_bytes())
        return _LOADED[path]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    table = _compiled()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in cache_dir.glob(f"{CACHE_PREFIX}*.json"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(_table_to_json(table))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return table


def _compile_key() -> str:
    """What the compiled table depends on, read without importing genai-prices."""
    spec = importlib.util.find_spec("genai_prices")
    parts: list[str] = [resources.files("tiermon.ingest").joinpath(OVERRIDES).read_text("utf-8")]
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for path in [*(Path(f) / "data.py" for f in folders), Path(__file__), Path(genai_rates.__file__)]:
        try:
            st = path.stat()
        except OSError:
            continue
        parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _table_to_json(table: PriceTable) -> bytes:
    rows = [p.as_row() for p in table.rows()]
    doc = {"version": table.version, "sources": list(table.sources), "reference_models": table.reference_models,
           "fingerprint": table.fingerprint, "rows": rows}  # fmt: skip
    return json.dumps(doc, default=lambda v: v.isoformat()).encode()


def _table_from_json(raw: bytes) -> PriceTable:
    doc = json.loads(raw)
    windows: dict[str, list[Price]] = {}
    for row in doc["rows"]:
        windows.setdefault(row["model"], []).append(_price_from_row(row))
    table = PriceTable(
        windows={m: tuple(rows) for m, rows in windows.items()}, version=str(doc["version"]),
        sources=tuple(doc["sources"]), reference_models=dict(doc["reference_models"]),
    )  # fmt: skip
    # The compiled table's own fingerprint, so every command does not hash the rows again (~10 ms).
    table.__dict__["fingerprint"] = str(doc["fingerprint"])
    return table


def _price_from_row(row: dict[str, Any]) -> Price:
    lc = Rates(*(row[f"lc_{n}"] for n in RATE_NAMES)) if row["lc_input"] is not None else None
    return Price(
        model=row["model"], tier=row["tier"], rates=Rates(*(row[n] for n in RATE_NAMES)), long_context=lc,
        fast_multiplier=row["fast_multiplier"], context_window=row["context_window"], vendor=row["vendor"],
        lc_threshold=row["lc_threshold"], valid_from=datetime.fromisoformat(row["valid_from"]),
        valid_to=datetime.fromisoformat(row["valid_to"]), source=row["source"],
    )  # fmt: skip


def _compiled() -> PriceTable:
    """The package's rows with the shipped overrides applied."""
    windows: dict[str, list[Price]] = {}
    package = genai_rates.source_label()
    for row in genai_rates.compile_rows():
        windows.setdefault(row.key, []).append(_from_rate_row(row, package))
    text = resources.files("tiermon.ingest").joinpath(OVERRIDES).read_text("utf-8")
    data = _parse(text, OVERRIDES)
    for model, spec in (data.get("models") or {}).items():
        _apply_override(windows, model, spec)
    return PriceTable(
        windows={m: tuple(rows) for m, rows in windows.items()},
        version=package, sources=(package, f"override: {OVERRIDES}"),
        reference_models=_reference(data, OVERRIDES),
    )  # fmt: skip


def _from_rate_row(row: genai_rates.RateRow, source: str) -> Price:
    return Price(
        model=row.key, tier=tier_of(row.key), rates=Rates(*row.rates),
        long_context=Rates(*row.long_context) if row.long_context else None, fast_multiplier=row.fast_multiplier,
        context_window=row.context_window, vendor=row.vendor, lc_threshold=row.lc_threshold,
        valid_from=row.valid_from, valid_to=row.valid_to, source=source,
    )  # fmt: skip


def _apply_override(windows: dict[str, list[Price]], model: str, spec: dict[str, Any]) -> None:
    """Patch every id of the package model `model` names (or add it when the package has none)."""
    where = f"{OVERRIDES}: model {model!r}"
    source = f"override: {spec.get('source') or '?'}"
    patch: dict[str, Any] = {}
    if "long_context" in spec:
        patch["long_context"] = _rates(spec["long_context"], where)
        patch["lc_threshold"] = int(spec.get("lc_threshold", LONG_CONTEXT_THRESHOLD))
    if "fast_multiplier" in spec:
        patch["fast_multiplier"] = _number(spec, "fast_multiplier", where)
    canonical = genai_rates.resolve(model)
    targets = [k for k, rows in windows.items() if canonical and genai_rates.resolve(k) == canonical] or [model]
    for key in targets:
        if key not in windows:
            windows[key] = [replace(_price(model, spec, where), source=source)]
        else:
            windows[key] = [replace(p, **patch, source=f"{p.source} + {source}") for p in windows[key]]


def _reference(data: dict[str, Any], where: str) -> dict[str, str]:
    ref = data.get("reference_models") or {}
    if not isinstance(ref, dict) or not all(isinstance(v, str) for v in ref.values()):
        raise PriceFileError(f"price file {where}: reference_models must map a tier to a model id")
    return {str(k): v for k, v in ref.items()}


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(f"price file {where} is not valid TOML: {exc}") from exc


def _prices(data: dict[str, Any], where: str, *, source: str) -> dict[str, Price]:
    models = data.get("models") or {}
    if not isinstance(models, dict):
        raise PriceFileError(f"price file {where}: [models] must be a table of models")
    return {
        model: replace(_price(model, spec, f"price file {where}: model {model!r}"), source=source)
        for model, spec in models.items()
    }


def _price(model: str, spec: Any, where: str) -> Price:
    if not isinstance(spec, dict):
        raise PriceFileError(f"{where} must be a table")
    long = _rates(spec["long_context"], where + " long_context") if "long_context" in spec else None
    return Price(
        model=model, tier=str(spec.get("tier") or tier_of(model)), rates=_rates(spec, where), long_context=long,
        fast_multiplier=_number(spec, "fast_multiplier", where, default=1.0),
        context_window=int(_number(spec, "context_window", where, default=DEFAULT_WINDOW)),
        vendor=str(spec.get("vendor") or "other"),
        lc_threshold=int(_number(spec, "lc_threshold", where, default=LONG_CONTEXT_THRESHOLD)) if long else None,
    )  # fmt: skip


def _rates(spec: Any, where: str) -> Rates:
    if not isinstance(spec, dict):
        raise PriceFileError(f"{where} must be a table of rates")
    missing = [n for n in RATE_NAMES if n not in spec]
    if missing:
        raise PriceFileError(f"{where} needs {', '.join(RATE_NAMES)} (missing {', '.join(missing)})")
    return Rates(*(_number(spec, n, where) for n in RATE_NAMES))


def _number(spec: dict[str, Any], name: str, where: str, default: float | None = None) -> float:
    """A finite, non-negative number; anything else is the user's one-line error."""
    value = spec.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceFileError(f"{where}: {name} must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise PriceFileError(f"{where}: {name} must be a finite number >= 0, not {value!r}")
    return float(value)
