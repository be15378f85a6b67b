"""Provides the context *limit*: where the agent compacts, which is what a fill gauge must measure against.

SPEC §4.5: Claude Code runs a model at a 200k window unless the model id
carries `[1m]` or a request of the session exceeded 200k (then 1M), and
auto-compacts at the window minus a reserved buffer (33k today). The limit is
the compaction point learned from the user's own auto-compactions of that
model and agent (the median `pre_tokens` of the last few), else window − buffer.
Other agents' windows are the one the agent recorded (Codex's `model_context_window`), else the
price table's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from statistics import median
from typing import TYPE_CHECKING

from tiermon.ingest.models import model_base
from tiermon.ingest.schema import COMPACTIONS_KEY
from tiermon.ingest.signals.costs import DEFAULT_WINDOW, LONG_WINDOW, context_window

if TYPE_CHECKING:
    from tiermon.ingest.pricing import PriceTable
    from tiermon.ingest.signals.base import Response, SessionRows
    from tiermon.ingest.store import Store

COMPACT_BUFFER = 33_000
"""Tokens Claude Code keeps free below the window: it auto-compacts at about 167k of 200k."""
LEARN_FROM = 5
"""How many of the latest auto-compactions of a model and agent the learned point is the median of."""
CLAUDE_AGENTS = frozenset({"claude-code", ""})

_AUTO_COMPACTIONS = """FROM events
    WHERE kind = 'system' AND subtype = 'compact_boundary' AND "trigger" = 'auto'
      AND NOT coalesce(is_sidechain, false) AND pre_tokens > 0 AND ts IS NOT NULL"""

_AUTO_COMPACTIONS_SQL = f"""
WITH b AS (
    SELECT session_id, ts, pre_tokens {_AUTO_COMPACTIONS}
), r AS (
    SELECT session_id, ts, model, coalesce(agent, '') AS agent FROM responses
    WHERE session_id IN (SELECT session_id FROM b) AND NOT coalesce(is_sidechain, false)
      AND ts IS NOT NULL AND model <> '<synthetic>'
)
SELECT r.model, r.agent, b.pre_tokens, b.ts FROM b ASOF JOIN r ON b.session_id = r.session_id AND b.ts >= r.ts
ORDER BY b.ts
"""
"""Every auto-compaction of a main chain with the model of the response just before it."""

_DIGEST_SQL = "SELECT count(*) || ':' || coalesce(bit_xor(hash(k)), 0) FROM events WHERE subtype = 'compact_boundary'"
"""Which compactions the store holds, in one short string. Every compaction, not only the auto ones
learned from: it changes whenever those do, and reading one column to filter costs a third as much."""

LEARNED_KEY = "learned_limits"
"""`meta` key keeping the learned points with the digest of the compactions they were learned from."""

LimitKey = tuple[str, str, int]
"""(model base, agent, window): a 1M-window run compacts elsewhere than a 200k one."""


@dataclass
class Limits:
    """The learned compaction points, read once per refresh and handed to every session."""

    learned: dict[LimitKey, int] = field(default_factory=dict)
    buffer: int = COMPACT_BUFFER

    def limit(self, model: str, agent: str, window: int) -> int:
        """Where a run of `model` under `agent` at `window` compacts: learned, else window − buffer."""
        key = (model_base(model), agent, window)
        return self.learned.get(key) or max(window - self.buffer, window // 2)

    def source(self, model: str, agent: str, window: int) -> str:
        return "learned" if (model_base(model), agent, window) in self.learned else "window-buffer"


def learned_limits(store: Store, buffer: int = COMPACT_BUFFER, last: int = LEARN_FROM) -> Limits:
    """The median pre_tokens of the latest `last` auto-compactions per model base, agent and window.

    Learning joins every compacted session's responses (~20 ms at 30 k responses, growing with
    the store) and a pass asks twice (signals, status.json), so the points are kept in `meta`
    with the count of compactions (kept by every write) and learned again only when it moves. The response
    a compaction follows comes before it in the same transcript, so it is stored by then.
    """
    digest = _digest(store)
    if last == LEARN_FROM and (known := _kept(store.meta(LEARNED_KEY), digest)) is not None:
        return Limits(known, buffer)
    seen: dict[LimitKey, list[int]] = {}
    for model, agent, pre, _ts in store.query(_AUTO_COMPACTIONS_SQL):
        window = LONG_WINDOW if str(model).endswith("[1m]") or pre > DEFAULT_WINDOW else DEFAULT_WINDOW
        seen.setdefault((model_base(model), agent, window), []).append(int(pre))
    learned = {k: int(median(v[-last:])) for k, v in seen.items()}
    if last == LEARN_FROM and not store.read_only:
        store.set_meta(LEARNED_KEY, json.dumps({"digest": digest, "points": [[*k, v] for k, v in learned.items()]}))
    return Limits(learned, buffer)


def _digest(store: Store) -> str:
    """Which compactions the store holds: the count every write keeps in `meta` (compactions are only
    ever added), or, on a store without it, a scan of the events."""
    counted = store.meta(COMPACTIONS_KEY)
    return f"n:{counted}" if counted is not None else str(store.query(_DIGEST_SQL)[0][0])


def _kept(raw: str | None, digest: str) -> dict[LimitKey, int] | None:
    """The points kept in `meta`, if they were learned from the compactions `digest` names."""
    try:
        kept = json.loads(raw or "null")
        if not isinstance(kept, dict) or kept.get("digest") != digest:
            return None
        return {(str(model), str(agent), int(window)): int(point) for model, agent, window, point in kept["points"]}
    except (ValueError, TypeError, KeyError):
        return None


def session_window(rows: SessionRows, r: Response, prices: PriceTable) -> int:
    """The window `r` ran at: Claude Code's rule for its own sessions; for others the window the agent
    recorded, else the price table's."""
    if r.agent not in CLAUDE_AGENTS:
        return rows.recorded_window(r.ts) or context_window(prices, r.model)
    if r.model.endswith("[1m]") or rows.long_context:
        return LONG_WINDOW
    return DEFAULT_WINDOW


def response_limit(rows: SessionRows, r: Response, prices: PriceTable, limits: Limits) -> tuple[int, int]:
    """(window, limit) for one main-chain response."""
    window = session_window(rows, r, prices)
    return window, limits.limit(r.model, r.agent, window)
