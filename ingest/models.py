"""Model ids: their base form, vendor, tier (rung on the vendor's ladder) and the order of tiers.

SPEC §3: Anthropic's tiers are haiku < sonnet < opus; every other vendor has a
ladder of three rungs named by role, small < mid < large. Tiers of one rung
compare equal across vendors (haiku ~ small, sonnet ~ mid, opus ~ large), so a
switch from Opus to a Codex model reads as a move between rungs. The built-in
rules below cover the families tiermon's sources meet; anything else is
`other` until the user maps it in models.toml.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

_DATE_SUFFIX = re.compile(r"-\d{8}$")
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")

ANTHROPIC_TIERS = ("haiku", "sonnet", "opus")
RUNGS = ("small", "mid", "large")
TIERS = (*ANTHROPIC_TIERS, *RUNGS, "other")
"""Every value of a row's `tier`."""

TIER_ORDER = {"haiku": 0, "sonnet": 1, "opus": 2, "small": 0, "mid": 1, "large": 2}
"""Cheaper to stronger; `other` is outside the order."""

RUNG_OF = {"haiku": "small", "sonnet": "mid", "opus": "large", "small": "small", "mid": "mid", "large": "large"}
"""A tier's rung on the common three-step ladder."""

BUILTIN_RULES: tuple[tuple[str, str, str], ...] = (
    ("*haiku*", "anthropic", "haiku"),
    ("*sonnet*", "anthropic", "sonnet"),
    ("*opus*", "anthropic", "opus"),
    ("claude-*", "anthropic", "other"),
    ("gpt-*-mini*", "openai", "small"),
    ("gpt-*-nano*", "openai", "small"),
    ("gpt-oss*", "openai", "small"),
    ("codex-mini*", "openai", "small"),
    ("gpt-5*", "openai", "large"),
    ("gpt-4*", "openai", "mid"),
    ("o[1-9]*-mini*", "openai", "small"),
    ("o[1-9]*", "openai", "large"),
    ("gemini-*flash-lite*", "google", "small"),
    ("gemini-*flash*", "google", "mid"),
    ("gemini-*pro*", "google", "large"),
    ("gemma*", "google", "small"),
    ("qwen*-coder-plus*", "alibaba", "mid"),
    ("qwen*-coder-flash*", "alibaba", "small"),
    ("qwen*-max*", "alibaba", "large"),
    ("coder-model", "alibaba", "mid"),
    ("qwen*", "alibaba", "small"),
)
"""(glob on the lower-cased base id, vendor, tier), first match wins."""

Rule = tuple[str, str, str]
_user_rules: tuple[Rule, ...] = ()
"""The user's models.toml rules, tried before the built-in ones (`use_rules`)."""


class ModelsFileError(ValueError):
    """A models.toml that cannot be used; the message is one line for the user."""


@lru_cache(maxsize=4096)
def model_base(model: str) -> str:
    """`claude-sonnet-4-5-20250929` -> `claude-sonnet-4-5`; `claude-opus-4-6[1m]` -> `claude-opus-4-6`."""
    base = _CONTEXT_SUFFIX.sub("", model.strip())
    return _DATE_SUFFIX.sub("", base)


@lru_cache(maxsize=4096)
def classify(model: str) -> tuple[str, str]:
    """(vendor, tier) by the built-in rules; ("", "other") when none matches."""
    for pattern, vendor, tier in (*_user_rules, *BUILTIN_RULES):
        if _matches(model, pattern):
            return vendor, tier
    return "", "other"


def _matches(model: str, pattern: str) -> bool:
    """A models.toml or built-in glob against the id as given or its base name: "openai/gpt-5" and
    "models/gemini-…" name the model last."""
    return fnmatchcase(model_base(model).lower().rsplit("/", 1)[-1], pattern) or fnmatchcase(model.lower(), pattern)


def use_rules(rules: tuple[Rule, ...]) -> None:
    """Make the user's rules part of `classify` for this process (and the workers it forks)."""
    global _user_rules
    _user_rules = rules
    classify.cache_clear()


def current_rules() -> tuple[Rule, ...]:
    """The user's rules in force: what a spawned worker, which starts without them, is handed."""
    return _user_rules


def rules_fingerprint() -> str:
    """Changes whenever the rules in force change, so stored rows know to be re-tiered."""
    return hashlib.sha256(repr((_user_rules, BUILTIN_RULES)).encode()).hexdigest()[:16]


def load_model_rules(path: Path) -> tuple[Rule, ...]:
    """`[[model]]` entries of models.toml — `match` (a glob on the model id), `vendor`, `tier` — in order.

    The file is optional; a bad one is a ModelsFileError naming the entry, never a traceback.
    """
    return tuple(_rule(path, n, entry) for n, entry in enumerate(_entries(path), 1))


def load_price_aliases(path: Path) -> tuple[tuple[str, str], ...]:
    """(glob, priced model id) of the entries with `price_as`: a model the price table does not know
    shows what its tokens would cost at that id's list price, as its own `proxy_cost_usd` (SPEC §2.2)."""
    aliases = []
    for n, entry in enumerate(_entries(path), 1):
        match, _, _ = _rule(path, n, entry)
        alias = entry.get("price_as")
        if alias is None:
            continue
        if not isinstance(alias, str) or not alias.strip():
            raise ModelsFileError(f"models file {path}, entry {n}: price_as must be a model id such as \"gpt-5.1\"")
        aliases.append((match, alias.strip()))
    return tuple(aliases)


def price_alias(model: str, aliases: tuple[tuple[str, str], ...]) -> str | None:
    """The priced id the first matching alias names for `model`, if any."""
    return next((alias for glob, alias in aliases if _matches(model, glob)), None)


def _entries(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelsFileError(f"models file {path} cannot be read: {_one_line(exc)}") from exc
    entries = data.get("model", [])
    if not isinstance(entries, list) or set(data) - {"model"}:
        raise ModelsFileError(f"models file {path}: expected [[model]] entries only")
    return entries


def _rule(path: Path, n: int, entry: object) -> Rule:
    where = f"models file {path}, entry {n}"
    if not isinstance(entry, dict) or set(entry) - {"match", "vendor", "tier", "price_as"}:
        raise ModelsFileError(f"{where}: takes only match, vendor, tier and price_as")
    match, vendor, tier = entry.get("match"), entry.get("vendor", ""), entry.get("tier", "other")
    if not isinstance(match, str) or not match.strip():
        raise ModelsFileError(f"{where}: match must be a glob such as \"qwen3-coder*\"")
    if not isinstance(vendor, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,39}|", vendor):
        raise ModelsFileError(f"{where}: vendor must be a short lower-case name such as \"alibaba\"")
    if tier not in TIERS:
        raise ModelsFileError(f"{where}: tier must be one of {', '.join(TIERS)}")
    return match.strip().lower(), vendor, str(tier)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def tier_of(model: str) -> str:
    """Tier by model family (SPEC §3); anything unrecognised is `other`."""
    return classify(model)[1]


def vendor_of(model: str, default: str = "") -> str:
    """The vendor a model id belongs to, or `default` when no rule knows it."""
    return classify(model)[0] or default


def direction(from_tier: str, to_tier: str) -> str:
    """`down`, `up` or `same-tier` by rung: haiku/small < sonnet/mid < opus/large."""
    a, b = TIER_ORDER.get(from_tier), TIER_ORDER.get(to_tier)
    if a is None or b is None or a == b:
        return "same-tier"
    return "up" if b > a else "down"
