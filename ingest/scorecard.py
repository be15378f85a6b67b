"""Provides the model scorecard (SPEC §4.10): how each model does on the user's own work, side by side.

The engine records one row per turn (`turns`) with what the scorecard counts;
here those rows are read as one polars frame (DuckDB hands it over without a
copy) and grouped per model, rung, vendor and agent. Every rate is a count
over a base with its 95 % Wilson interval, so a rate over a handful of turns
reads as the guess it is; below `MIN_TURNS` the row says "too few turns".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from tiermon.ingest.reports import ReportFilter
    from tiermon.ingest.store import Store

MIN_TURNS = 20
"""Below this many turns a model's rates are shown but flagged: too few to compare."""
Z95 = 1.959964
GROUP_BY = ("model", "rung", "vendor", "agent")
FLAGS = ("struggled", "thrash", "needless_ask", "reread", "interrupted", "compacted", "escalated", "recovered")
"""Per-turn yes/no columns the scorecard counts."""

_TURNS_SQL = """
SELECT t.session_id, t.turn, t.start_ts, t.model, t.tier, t.rung, coalesce(t.vendor, '') AS vendor,
       coalesce(t.agent, '') AS agent, t.dominant_tool, t.responses, t.subagent_responses, t.tool_calls,
       t.failed_attempts, t.output_tokens, t.input_tokens, t.cache_read_tokens, t.cache_write_5m_tokens,
       t.cache_write_1h_tokens, t.prompt_tokens, t.cost_usd, t.main_cost_usd, t.subagent_cost_usd,
       t.unpriced_tokens, t.thrash, t.needless_ask, t.rereads > 0 AS reread, t.interrupts > 0 AS interrupted,
       t.compactions > 0 AS compacted, t.struggled, t.escalated, t.recovered, s.project
FROM turns t LEFT JOIN session_signals s ON s.k = t.session_id
WHERE t.turn > 0 AND t.model IS NOT NULL AND {where}
ORDER BY t.session_id, t.turn
"""
_PROJECT_JOIN = "LEFT JOIN session_signals s ON s.k = t.session_id"

RATES: tuple[tuple[str, str, str, str], ...] = (
    ("failed_per_100_calls", "failed attempts / 100 tool calls", "failed_attempts", "tool_calls"),
    ("struggle_per_100_turns", "struggling turns / 100", "struggled", "turns"),
    ("thrash_per_100_turns", "thrash / 100 turns", "thrash", "turns"),
    ("needless_asks_per_100_turns", "needless asks / 100 turns", "needless_ask", "turns"),
    ("rereads_per_100_turns", "re-read drift / 100 turns", "reread", "turns"),
    ("interrupts_per_100_turns", "interrupts / 100 turns", "interrupted", "turns"),
    ("compactions_per_100_turns", "compactions / 100 turns", "compacted", "turns"),
    ("recovered_per_100_escalations", "struggle stopped after a move up / 100", "recovered", "escalated"),
)
"""(key, label, count column, base column): each rate is count / base × 100 with its Wilson interval."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A count over a base, as a percentage with its 95 % Wilson interval (None when the base is 0)."""

    count: int
    base: int

    @property
    def value(self) -> float | None:
        return 100 * self.count / self.base if self.base else None

    @property
    def interval(self) -> tuple[float, float] | None:
        low_high = wilson(self.count, self.base)
        return None if low_high is None else (100 * low_high[0], 100 * low_high[1])

    def as_dict(self) -> dict[str, Any]:
        value, interval = self.value, self.interval
        return {
            "count": self.count, "base": self.base, "per_100": None if value is None else round(value, 2),
            "low": None if interval is None else round(interval[0], 2),
            "high": None if interval is None else round(interval[1], 2),
        }  # fmt: skip


def wilson(count: int, base: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of count/base: honest at 0 %, 100 % and small bases, unlike p ± z·se."""
    if base <= 0:
        return None
    p = count / base
    denominator = 1 + z * z / base
    centre = (p + z * z / (2 * base)) / denominator
    half = z * math.sqrt(p * (1 - p) / base + z * z / (4 * base * base)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def turn_frame(store: Store, f: ReportFilter, *, project: bool = True) -> pl.DataFrame:
    """The period's turns (every agent, every vendor) with what the scorecard and the replay read.

    Without `project` (the scorecard and the replay do not read it) its column is empty unless the
    filter names a project: the join that finds it scans every session (~50 of 70 ms for a month at
    5 M responses)."""
    where, params = f.where(TURN_COLUMNS)
    sql = _TURNS_SQL.format(where=where)
    if not project and f.project is None:
        sql = sql.replace(_PROJECT_JOIN, "").replace("s.project", "NULL::VARCHAR AS project")
    return store.frame(sql, params)


TURN_COLUMNS = {"ts": "t.start_ts", "project": "s.project", "tier": "t.tier", "session_id": "t.session_id",
                "agent": "t.agent"}  # fmt: skip
"""ReportFilter's fields as the turns query names them: days cut in the filter's zone, as reports cut them."""


def scorecard(turns: pl.DataFrame, by: str | None = None) -> list[dict[str, Any]]:
    """One row per model (with its rung, vendor and agent), most turns first; `by` rung, vendor or agent
    groups by that alone (the other keys read `*`)."""
    import polars as pl

    if turns.is_empty():
        return []
    keys = list(GROUP_BY) if by in (None, "model") else [by]
    grouped = (
        turns.group_by(keys)
        .agg(
            turns=pl.len(),
            responses=pl.col("responses").sum(),
            subagent_responses=pl.col("subagent_responses").sum(),
            tool_calls=pl.col("tool_calls").sum(),
            failed_attempts=pl.col("failed_attempts").sum(),
            output_tokens=pl.col("output_tokens").sum(),
            cache_read_tokens=pl.col("cache_read_tokens").sum(),
            prompt_tokens=pl.col("prompt_tokens").sum(),
            cost_usd=pl.col("cost_usd").sum(),
            priced_turns=pl.col("cost_usd").is_not_null().sum(),
            cost_median=pl.col("cost_usd").median(),
            cost_p90=pl.col("cost_usd").quantile(0.9, interpolation="linear"),
            unpriced_tokens=pl.col("unpriced_tokens").sum(),
            **{name: pl.col(name).cast(pl.Int64).sum() for name in FLAGS},
        )
        .sort(["turns", keys[0]], descending=[True, False])
    )
    return [_row({k: "*" for k in GROUP_BY} | r) for r in grouped.iter_rows(named=True)]


def _row(r: dict[str, Any]) -> dict[str, Any]:
    turns = r["turns"]
    all_responses = (r["responses"] or 0) + (r["subagent_responses"] or 0)
    return {
        "model": r["model"], "rung": r["rung"], "vendor": r["vendor"], "agent": r["agent"],
        "turns": turns, "responses": r["responses"], "too_few_turns": turns < MIN_TURNS,
        "cost_usd": _money(r["cost_usd"]) if r["priced_turns"] else None,
        "cost_per_turn_median": _money(r["cost_median"]), "cost_per_turn_p90": _money(r["cost_p90"]),
        "unpriced_tokens": r["unpriced_tokens"] or 0,
        "output_per_turn": round((r["output_tokens"] or 0) / turns, 1),
        "tool_calls_per_turn": round((r["tool_calls"] or 0) / turns, 2),
        "cache_hit_ratio": round(r["cache_read_tokens"] / r["prompt_tokens"], 4) if r["prompt_tokens"] else None,
        "subagent_share": round((r["subagent_responses"] or 0) / all_responses, 4) if all_responses else None,
        "rates": {key: Rate(int(r[count] or 0), int(turns if base == "turns" else r[base] or 0)).as_dict()
                  for key, _label, count, base in RATES},
    }  # fmt: skip


def _money(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def rung_rates(turns: pl.DataFrame) -> dict[str, Rate]:
    """Struggling turns per rung: what the replay predicts for turns moved onto that rung."""
    import polars as pl

    if turns.is_empty():
        return {}
    per = turns.group_by("rung").agg(n=pl.len(), k=pl.col("struggled").cast(pl.Int64).sum())
    return {r["rung"]: Rate(int(r["k"] or 0), int(r["n"])) for r in per.iter_rows(named=True) if r["rung"]}
