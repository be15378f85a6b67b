"""Provides cache rebuilds after idle gaps, and each session's cache figures (SPEC §4.8).

A main-chain response that follows an idle gap longer than the cache
lifetime (5 minutes, or 1 hour when the previous writes were 1-hour writes)
and writes at least `cache_rebuild_tokens` paid to rebuild a cache that had
expired. A gap that also holds a compaction or a model switch is not counted:
the cache would have been written afresh anyway.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import pairwise

from tiermon.ingest.config import Thresholds
from tiermon.ingest.formatting import duration, money
from tiermon.ingest.pricing import PriceTable
from tiermon.ingest.signals.base import Alert, Response, SessionRows
from tiermon.ingest.signals.costs import rebuild_costs

TTL_5M = 300
TTL_1H = 3600


def lifetime(one_hour_writes: bool | None) -> int:
    """The prompt cache's lifetime (SPEC §4.8): 1 h when the last cache writes were 1-hour writes, else 5 min.

    The one statement of the rule: the rebuild alerts, the stored `cache_ttl_seconds`, the Live
    pane's warm/expiring/expired hint and the expiring-cache list all ask here.
    """
    return TTL_1H if one_hour_writes else TTL_5M


def cache_ttl(previous: list[Response]) -> int:
    """Lifetime of the cache the last writing response left."""
    last = next((r for r in reversed(previous) if r.writes), None)
    return lifetime(last is not None and last.w1h > 0)


def rebuild_alerts(rows: SessionRows, thresholds: Thresholds, prices: PriceTable) -> list[Alert]:
    cuts = rows.compaction_times()
    alerts = []
    ttl = lifetime(False)
    for prev, cur in pairwise(rows.main):
        if prev.writes:
            ttl = lifetime(prev.w1h > 0)
        idle = (cur.ts - prev.ts).total_seconds()
        if idle <= ttl or cur.writes < thresholds.cache_rebuild_tokens:
            continue
        if cur.base != prev.base or bisect_right(cuts, cur.ts) != bisect_right(cuts, prev.ts):
            continue
        costs = rebuild_costs(prices, cur)
        written, read = costs if costs else (None, None)
        text = f"Cache rebuilt after {duration(idle)} idle (lifetime {duration(ttl)}): {cur.writes:,} tokens written"
        if written is not None and read is not None:
            text += f" for {money(written)} instead of read for {money(read)}"
        alerts.append(
            Alert(
                kind="cache_rebuild", severity="info", start=cur.ts, end=cur.ts, message=text,
                figures={
                    "idle_since": prev.ts.isoformat(), "idle_seconds": round(idle, 3), "cache_lifetime_seconds": ttl,
                    "cache_write_tokens": cur.writes, "model": cur.model,
                    "rebuild_cost_usd": round(written, 6) if written is not None else None,
                    "read_cost_usd": round(read, 6) if read is not None else None,
                    "extra_usd": round(written - read, 6) if written is not None and read is not None else None,
                },
            )
        )  # fmt: skip
    return alerts


def hit_ratio(responses: list[Response]) -> float | None:
    """Cache read ÷ all prompt tokens."""
    prompt = sum(r.context for r in responses)
    return sum(r.read for r in responses) / prompt if prompt else None
