"""genai-prices' snapshot compiled into tiermon's rate rows, once per run.

genai-prices (pydantic's, pinned in pyproject) keeps every vendor's prices with
their dates, long-context tiers, 1-hour cache writes and speed variants, and
ships its snapshot inside the wheel: no network. Its calculator is per request
and works in Decimal; tiermon prices millions of rows in one SQL statement, so
the snapshot is flattened here into plain rows (`Price`): one per model id and
date window, five rates per million tokens, the long-context rates and their
threshold, and the fast-mode multiplier.

Model ids. The package finds a model by match rules (equals, starts-with,
regex, ...) tried in order, first match wins. SQL joins on equality, so the
rules are compiled two ways:

- every literal id a rule names (the model's id, each `equals`, each
  `starts_with` that is itself a whole id) becomes a row key, kept only when
  the package's own matcher sends that id back to the same model. With
  tiermon's lookup (exact id, then without `-YYYYMMDD` / `[1m]`, SPEC §3) that
  covers every Claude id Claude Code writes;
- any other id (`gpt-5.1-codex`, priced as `gpt-5.1` by a starts-with rule) is
  resolved by the package's matcher once per distinct id (`resolve`): the
  store does it for the ids it holds when it installs the table, Python
  lookups on demand. Never once per row.

Only vendors whose ids say who they are (the package's provider-level match)
are compiled, and only models with input and output token prices: the table
stays a few hundred rows and installs in milliseconds. Time-of-day prices
(DeepSeek's off-peak hours) are left out: the standard price applies. OpenAI's
`service_tier` variants are not read; tiermon has no such column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from tiermon.ingest.models import model_base

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, Provider

PACKAGE = "genai-prices"
VENDORS = ("anthropic", "openai", "google", "x-ai", "deepseek", "mistral", "moonshotai", "zhipuai", "minimax")
"""Providers compiled, in lookup order: an id two of them claim goes to the first."""
ALWAYS_FROM = datetime(1970, 1, 1)
ALWAYS_TO = datetime(9999, 12, 31)
"""Bounds of a price with no date: naive UTC like `responses.ts`, which must fall in [from, to)."""
DEFAULT_WINDOW = 200_000
"""Context window of a model the package gives none."""
_WHOLE_ID = re.compile(r"^[a-z0-9][a-z0-9.\-]*[a-z0-9]$")
_PARTIAL_DATE = re.compile(r"-20\d{2}$")


def package_version() -> str:
    from importlib.metadata import version  # ~40 ms to import: only when the table is compiled

    return version(PACKAGE)


def source_label() -> str:
    """How `tiermon prices` names a rate that came from the package."""
    return f"{PACKAGE} {package_version()}"


@dataclass(frozen=True)
class RateRow:
    """One model's rates over one date window, as the package gives them (USD per million tokens)."""

    key: str
    model_id: str
    vendor: str
    rates: tuple[float, float, float, float, float]
    """input, output, 5-minute write, 1-hour write, cache read."""
    long_context: tuple[float, float, float, float, float] | None
    lc_threshold: int | None
    fast_multiplier: float
    context_window: int
    valid_from: datetime
    valid_to: datetime


def compile_rows() -> list[RateRow]:
    """Every key of every compiled model, one row per date window."""
    rows: list[RateRow] = []
    for provider, model, keys in _models():
        windows = list(_windows(model))
        if not windows:
            continue
        fast = _fast_multiplier(model, windows[-1][2])
        for key in keys:
            for start, end, price in windows:
                row = _row(key, provider.id, model, price, fast, start, end)
                if row is not None:
                    rows.append(row)
    return rows


@cache
def resolve(model: str) -> str | None:
    """The key of `compile_rows` whose model the package's match rules give `model`, if compiled."""
    keys = _first_keys()
    for ref in dict.fromkeys((model.lower(), model_base(model).lower())):
        found = _package_match(ref)
        if found is not None and found in keys:
            return keys[found]
    return None


@cache
def _first_keys() -> dict[str, str]:
    """Package model id -> the first key its rows carry."""
    return {model.id: keys[0] for _, model, keys in _models()}


def _package_match(ref: str) -> str | None:
    from genai_prices.data_snapshot import get_snapshot

    snapshot = get_snapshot()
    try:
        provider = snapshot.find_provider(ref, None, None)
    except LookupError:
        return None
    if provider.id not in VENDORS:
        return None
    model = provider.find_model(ref)
    return model.id if model is not None else None


@cache
def _models() -> tuple[tuple[Provider, ModelInfo, tuple[str, ...]], ...]:
    """(provider, model, the literal ids it owns) for each compiled model with token prices."""
    from genai_prices.data_snapshot import get_snapshot

    providers = {p.id: p for p in get_snapshot().providers}
    taken: set[str] = set()
    out: list[tuple[Provider, ModelInfo, tuple[str, ...]]] = []
    for vendor in VENDORS:
        provider = providers.get(vendor)
        if provider is None:
            continue
        for model in provider.models:
            if _package_match(model.id.lower()) != model.id:
                continue  # another vendor's model resold (Vertex's Claude): priced by its own vendor
            ids = dict.fromkeys(_literal_ids(model))
            keys = tuple(k for k in ids if k not in taken and _package_match(k) == model.id)
            taken.update(keys)
            if keys:
                out.append((provider, model, keys))
    return tuple(out)


def _literal_ids(model: ModelInfo) -> Iterator[str]:
    yield model.id.lower()
    for clause in _clauses(model.match):
        text = getattr(clause, "equals", None) or getattr(clause, "starts_with", None)
        if isinstance(text, str):
            text = text.lower()
            if _WHOLE_ID.match(text) and not _PARTIAL_DATE.search(text):
                yield text


def _clauses(logic: Any) -> Iterator[Any]:
    for child in (getattr(logic, "or_", None) or []):
        yield from _clauses(child)
    if not hasattr(logic, "or_"):
        yield logic


def _windows(model: ModelInfo) -> Iterator[tuple[datetime, datetime, ModelPrice]]:
    """[from, to) windows of the model's dated prices; the first one also covers everything before it."""
    from genai_prices.types import ModelPrice, StartDateConstraint

    if isinstance(model.prices, ModelPrice):
        yield ALWAYS_FROM, ALWAYS_TO, model.prices
        return
    dated = [
        (_midnight(c.constraint.start_date) if isinstance(c.constraint, StartDateConstraint) else ALWAYS_FROM, c.prices)
        for c in model.prices
        if c.constraint is None or isinstance(c.constraint, StartDateConstraint)
    ]
    dated.sort(key=lambda d: d[0])
    for i, (start, price) in enumerate(dated):
        end = dated[i + 1][0] if i + 1 < len(dated) else ALWAYS_TO
        if end > start:
            yield (ALWAYS_FROM if i == 0 else start), end, price


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _row(
    key: str, vendor: str, model: ModelInfo, price: ModelPrice, fast: float, start: datetime, end: datetime
) -> RateRow | None:
    from genai_prices.types import TieredPrices

    keys = ("input_mtok", "output_mtok", "cache_write_5m_mtok", "cache_write_1h_mtok", "cache_read_mtok")
    raw = [_effective(price, k) for k in keys]
    if raw[0] is None or raw[1] is None:
        return None
    thresholds = {t.start for v in raw if isinstance(v, TieredPrices) for t in v.tiers}
    if len(thresholds) > 1 or any(isinstance(v, TieredPrices) and len(v.tiers) > 1 for v in raw):
        return None  # several tiers: not a shape tiermon's rate row holds
    long = _five([_at(v, tier=True) for v in raw]) if thresholds else None
    return RateRow(
        key=key, model_id=model.id, vendor=vendor, rates=_five([_at(v, tier=False) for v in raw]),
        long_context=long, lc_threshold=min(thresholds) if thresholds else None,
        fast_multiplier=fast, context_window=model.context_window or DEFAULT_WINDOW, valid_from=start, valid_to=end,
    )  # fmt: skip


def _five(values: list[float]) -> tuple[float, float, float, float, float]:
    return values[0], values[1], values[2], values[3], values[4]


def _effective(price: ModelPrice, key: str) -> Any:
    """The price the package would charge a token of this kind: unpriced kinds fall back to their parent."""
    fallbacks = {
        "cache_write_5m_mtok": ("cache_write_5m_mtok", "cache_write_mtok", "input_mtok"),
        "cache_write_1h_mtok": ("cache_write_1h_mtok", "cache_write_mtok", "input_mtok"),
        "cache_read_mtok": ("cache_read_mtok", "input_mtok"),
    }
    for name in fallbacks.get(key, (key,)):
        value = getattr(price, name, None)
        if value is not None:
            return value
    return None


def _at(value: Any, *, tier: bool) -> float:
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        return float(value.tiers[0].price if tier and value.tiers else value.base)
    return float(value)


def _fast_multiplier(model: ModelInfo, price: ModelPrice) -> float:
    """The package's `speed: fast` variant as one factor on the current price, when it is one."""
    for variant in model.price_variants or ():
        if variant.when != {"speed": "fast"} or variant.constraint is not None:
            continue
        ratios = {
            Decimal(v) / Decimal(getattr(price, k))
            for k, v in variant.prices.__dict__.items()
            if v is not None and isinstance(v, Decimal) and isinstance(getattr(price, k, None), Decimal)
        }
        if len(ratios) == 1:
            return float(ratios.pop())
    return 1.0
