"""Provides de-escalation by kind (SPEC §4.7): turns a lower rung does just as well on this user's data.

A turn's *kind* is its dominant tool and its size (tool calls, in buckets).
Where the rung below has done at least `MIN_TURNS` turns of the same kind with
no higher a struggle rate than this turn's rung, a turn of that kind that ran
higher is advised down one rung. It is read from the scorecard's frame of
turns at the time of asking, so it always reflects the whole store; the
counterfactual re-prices the turn's main-chain tokens like the replay does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tiermon.ingest.models import RUNGS
from tiermon.ingest.replay import turn_costs, unit_rates
from tiermon.ingest.scorecard import MIN_TURNS
from tiermon.ingest.signals.advice import ladder, reference
from tiermon.ingest.signals.costs import COUNTERFACTUAL_NOTE

if TYPE_CHECKING:
    import polars as pl

    from tiermon.ingest.pricing import PriceTable
    from tiermon.ingest.store import Store

SIZE_EDGES = (0, 2, 5, 10, 20)
"""Upper bounds of the tool-call buckets: 0, 1–2, 3–5, 6–10, 11–20, more."""


def size_bucket(tool_calls: int) -> str:
    low = 0
    for edge in SIZE_EDGES:
        if tool_calls <= edge:
            return f"{low}" if low == edge else f"{low}–{edge}"
        low = edge + 1
    return f"{low}+"


def kind_advice(turns: pl.DataFrame, prices: PriceTable, min_turns: int = MIN_TURNS) -> list[dict[str, Any]]:
    """Advice rows (the shape of `views.list_advice`) for turns whose kind the rung below does as well."""
    import polars as pl

    if turns.is_empty():
        return []
    frame = turns.with_columns(
        kind=pl.col("dominant_tool").fill_null("no tool"),
        size=pl.col("tool_calls").map_elements(size_bucket, return_dtype=pl.String),
        order=pl.col("rung").replace_strict({r: i for i, r in enumerate(RUNGS)}, default=None, return_dtype=pl.Int64),
    ).filter(pl.col("order").is_not_null())
    stats = frame.group_by(["kind", "size", "order"]).agg(n=pl.len(), k=pl.col("struggled").cast(pl.Int64).sum())
    lower = stats.filter(pl.col("n") >= min_turns).select(
        "kind", "size", (pl.col("order") + 1).alias("order"), lower_n="n", lower_k="k"
    )
    here = stats.select("kind", "size", "order", here_n="n", here_k="k")
    candidates = (
        frame.filter((pl.col("order") > 0) & ~pl.col("struggled").fill_null(False))
        .join(lower, on=["kind", "size", "order"])
        .join(here, on=["kind", "size", "order"])
        .filter(pl.col("lower_k") / pl.col("lower_n") <= pl.col("here_k") / pl.col("here_n"))
    )
    return _rows(candidates, prices)


def newest_kind_advice(
    store: Store, prices: PriceTable, limit: int, min_turns: int = MIN_TURNS, *, since: datetime | None = None
) -> list[dict[str, Any]]:
    """`kind_advice` over every turn the engine has not advised, keeping the `limit` newest (the Advice pane's).

    Why: at millions of responses the pane cannot read every turn into a frame each
    refresh (seconds). The per-kind struggle counts come from `turn_kinds`, which the
    signals writes keep, and only the newest `limit` turns they advise down are read, with the
    columns `kind_advice` reads; the rows are those `kind_advice` returns, newest first.
    A turn the engine advised is left out (the merged list keeps the engine's row for it).
    With `since`, only turns that started then or later (what a merged list can still show).
    """
    import polars as pl

    from tiermon.ingest.scorecard import _TURNS_SQL

    rungs = list(RUNGS)
    turns = "FROM turns t WHERE t.turn > 0 AND t.model IS NOT NULL"
    # The signals writes keep the turns counted per tool, tool calls and rung (`turn_kinds`): bucketing a
    # few hundred of those rows replaces grouping every turn (36 ms at 5 M responses).
    stats = store.frame(
        f"""SELECT coalesce(t.dominant_tool, 'no tool') AS kind, {_SIZE_SQL} AS size,
                   (list_position(?::VARCHAR[], t.rung) - 1)::BIGINT AS "order", sum(t.n)::UINT32 AS n,
                   sum(t.struggled)::BIGINT AS k
            FROM turn_kinds t WHERE list_contains(?::VARCHAR[], t.rung) GROUP BY ALL""",
        [rungs, rungs],
    )
    if stats.is_empty():
        return []
    lower = stats.filter(pl.col("n") >= min_turns).select(
        "kind", "size", (pl.col("order") + 1).alias("order"), lower_n="n", lower_k="k"
    )
    here = stats.select("kind", "size", "order", here_n="n", here_k="k")
    advised = lower.join(here, on=["kind", "size", "order"]).filter(
        pl.col("lower_k") / pl.col("lower_n") <= pl.col("here_k") / pl.col("here_n")
    )
    if advised.is_empty():
        return []
    keys = [f"{r['kind']}\x1f{r['size']}\x1f{r['order']}" for r in advised.iter_rows(named=True)]
    # The projects are looked up for the turns read, after: joining them in scanned every session (~33 ms).
    select = _TURNS_SQL.split("FROM turns t")[0].replace("s.project", "NULL::VARCHAR AS project").rstrip()
    sql = f"""{select}, coalesce(t.dominant_tool, 'no tool') AS kind, {_SIZE_SQL} AS size,
                 (list_position(?::VARCHAR[], t.rung) - 1)::BIGINT AS "order"
        FROM (SELECT * {turns} AND NOT coalesce(t.struggled, false) AND t.start_ts >= ?
                AND coalesce(t.dominant_tool, 'no tool') || chr(31) || ({_SIZE_SQL}) || chr(31)
                    || (list_position(?::VARCHAR[], t.rung) - 1) IN (SELECT unnest(?::VARCHAR[]))
                AND NOT EXISTS (SELECT 1 FROM advice a
                                WHERE a.session_id = t.session_id AND a.turn = t.turn AND a.start_ts >= ?)
              ORDER BY t.start_ts DESC LIMIT ?) t
        ORDER BY t.start_ts DESC"""
    # An advised turn's advice starts when the turn does, so only advice from `start` on is looked at (32 ms
    # instead of 46 at 5 M responses). The newest turns first: a month back, then a wider window until
    # `limit` rows or all of history.
    if since is not None:
        newest = store.frame(sql, [rungs, since, rungs, keys, since, limit])
    else:
        (first, last), days = store.query("SELECT min(start_ts), max(start_ts) FROM turns")[0], 30
        while True:
            start = max(last - timedelta(days=days), first) if first and last else datetime.min
            newest = store.frame(sql, [rungs, start, rungs, keys, start, limit])
            if newest.height >= limit or start <= (first or datetime.min):
                break
            days *= 4
    earliest = newest["start_ts"].min()
    projects = _projects(
        store, newest["session_id"].unique().to_list(), earliest if isinstance(earliest, datetime) else None
    )
    frame = newest.with_columns(
        project=pl.col("session_id").replace_strict(projects, default=None, return_dtype=pl.String)
    )
    return _rows(frame.join(advised, on=["kind", "size", "order"]), prices)


def _projects(store: Store, sessions: list[str], active_since: datetime | None = None) -> dict[str, str | None]:
    """Each session's project, as the signals recorded it (the ids as one list: binding 2,000 parameters
    took 80 ms, the list 16). Sessions with a turn from `active_since` on end no earlier, and the signals
    rows lie in time order, so that bound skips the older row groups (6 ms instead of 16 at 5 M)."""
    if not sessions:
        return {}
    recent = "(end_ts >= ? OR end_ts IS NULL) AND" if active_since is not None else ""
    rows = store.query(
        f"SELECT k, project FROM session_signals WHERE {recent} k IN (SELECT unnest(?::VARCHAR[]))",
        [active_since, sessions] if active_since is not None else [sessions],
    )
    return {str(k): project for k, project in rows}


def _size_sql() -> str:
    """`size_bucket(t.tool_calls)` as SQL."""
    cases, low = [], 0
    for edge in SIZE_EDGES:
        cases.append(f"WHEN t.tool_calls <= {edge} THEN '{low if low == edge else f'{low}–{edge}'}'")
        low = edge + 1
    return f"CASE {' '.join(cases)} ELSE '{low}+' END"


_SIZE_SQL = _size_sql()


_KIND_COLUMNS = ("kind", "size", "order", "rung", "lower_n", "lower_k", "here_n", "here_k")
"""What a by-kind row's reason and figures are made of."""


def _rows(candidates: pl.DataFrame, prices: PriceTable) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for (tier,), group in candidates.group_by(["tier"]):
        to_tier = ladder(str(tier))[int(group["order"][0]) - 1] if group.height else None
        ref = reference(prices, to_tier) if to_tier else None
        rates = unit_rates(prices, ref.model) if ref is not None else None
        alt = turn_costs(group, rates).to_list() if rates is not None else [None] * group.height
        out += _advice(group, str(tier), str(to_tier), ref.model if ref else None, alt)
    return sorted(out, key=lambda r: r["start"], reverse=True)


def _advice(
    group: pl.DataFrame, tier: str, to_tier: str, model: str | None, alt: list[float | None]
) -> list[dict[str, Any]]:
    """The advice rows of one tier's turns. The reason and figures depend on the turn's kind, size and rung
    alone: they are made once per kind (a few dozen) and copied per turn (2,000 for the pane)."""
    cols = {c: group[c].to_list() for c in ("session_id", "project", "turn", "start_ts", "cost_usd")}
    kinds = zip(*(group[c].to_list() for c in _KIND_COLUMNS), strict=True)
    note = COUNTERFACTUAL_NOTE.format(model=model or to_tier)
    to_model = model or f"({to_tier}: no reference model priced)"
    made: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
    out = []
    for i, (key, counterfactual) in enumerate(zip(kinds, alt, strict=True)):
        if key not in made:
            kind, size, order, rung, lower_n, lower_k, here_n, here_k = key
            lower = RUNGS[order - 1]
            reason = (
                f"{kind} turns of {size} tool calls: on the {lower} rung {lower_k} of "
                f"{lower_n} struggled, on {rung} {here_k} of {here_n} (your data)"
            )
            made[key] = reason, {
                "basis": "kind", "dominant_tool": kind, "size": size, "lower_rung": lower, "lower_turns": lower_n,
                "lower_struggling": lower_k, "turns_here": here_n, "struggling_here": here_k,
                "counterfactual": "re-pricing", "note": note,
            }  # fmt: skip
        reason, figures = made[key]
        cost, start = cols["cost_usd"][i], cols["start_ts"][i]
        out.append({
            "session_id": cols["session_id"][i], "project": cols["project"][i], "kind": "de-escalate",
            "from_tier": tier, "to_tier": to_tier, "to_model": to_model, "turn": cols["turn"][i], "start": start,
            "end": start, "cost_usd": cost, "counterfactual_cost_usd": counterfactual,
            "saving_usd": None if cost is None or counterfactual is None else round(cost - counterfactual, 6),
            "reason": reason, "figures": dict(figures),
        })  # fmt: skip
    return out


def newest_advice(store: Store, prices: PriceTable, limit: int) -> list[dict[str, Any]]:
    """The Advice pane's list: the newest `limit` rows of the engine's advice and the by-kind rows.

    Why it reads no more than it can show: a by-kind row of a turn the engine advised is
    left out in SQL (the engine's row stands for the turn, and both start when the turn
    does), so `limit` rows of each suffice, and neither list reaches back past the point
    where the other alone fills the list. The engine's cut is found from its start column
    (a few ms); the by-kind rows, most of a real list (1,840 of 2,000 at 5 M responses), are
    read from there, and the engine's whole rows only back to the oldest of them.
    """
    from tiermon.ingest.signals.views import list_advice, nth_newest_start

    engine_cut = nth_newest_start(store, "advice", limit)
    kind_rows = newest_kind_advice(store, prices, limit, since=engine_cut)
    since = kind_rows[-1]["start"] if len(kind_rows) >= limit else engine_cut
    rows = list_advice(store, since=since, limit=limit)
    return with_kind_advice(rows, kind_rows, limit=limit)


def with_kind_advice(
    rows: list[dict[str, Any]], kind_rows: list[dict[str, Any]], *, since: datetime | None = None,
    until: datetime | None = None, session: str | None = None, kinds: list[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The engine's advice and the by-kind rows in one list, newest first; a turn advised twice keeps the first."""
    if kinds and "de-escalate" not in kinds:
        return rows
    seen = {(r["session_id"], r["turn"]) for r in rows}
    extra = [
        r for r in kind_rows
        if (r["session_id"], r["turn"]) not in seen
        and (since is None or r["start"] >= since) and (until is None or r["start"] <= until)
        and (not session or str(r["session_id"]).startswith(session))
    ]  # fmt: skip
    merged = sorted([*rows, *extra], key=lambda r: r["start"] or datetime.min, reverse=True)
    return merged[:limit] if limit else merged
