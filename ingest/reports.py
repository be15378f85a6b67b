"""Spend reports over the store: per period, session, model and 5-hour block.

Every function takes an open Store and a ReportFilter and returns plain rows
(dicts), which the CLI prints as tables, JSON or CSV and the TUI charts.
Times are stored as naive UTC; periods are cut in the report's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tiermon.ingest.store import Store

TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
)

GROUPS: dict[str, str] = {
    "project": "coalesce(ss.project, r.project, '')",
    "branch": "coalesce(r.git_branch, '')",
    "model": "r.model",
    "tier": "r.tier",
    "agent": "r.agent",
    "vendor": "r.vendor",
    "agent-type": "CASE WHEN NOT r.is_sidechain THEN 'main' ELSE coalesce(a.agent_type, 'subagent') END",
}
"""SQL for each --by dimension."""

PERIODS = {"day": "day", "week": "week", "month": "month"}

BLOCK_HOURS = 5
"""Claude's usage windows: a block starts at the hour of its first request and lasts five hours."""

_SUMS = ",\n".join(f"sum(r.{f})::BIGINT AS {f}" for f in TOKEN_FIELDS)
_AGGREGATES = f"""count(*) AS requests,
{_SUMS},
sum(r.reasoning_tokens)::BIGINT AS reasoning_tokens,
sum(r.duration_ms)::BIGINT AS duration_ms,
sum(r.output_tokens) FILTER (WHERE r.duration_ms > 0)::BIGINT AS timed_output,
sum(r.cost_usd) AS cost_usd,
count(*) FILTER (WHERE NOT r.priced) AS unpriced_requests"""

_FROM = "FROM responses r"

SIGNAL_GROUPS = frozenset({"project", "agent-type"})
"""Groupings read from tables the signals keep (a session's project, an agent's type): a report grouped
by them needs its pass to compute the signals first (see `tui.commands.report.reads_signals`)."""


PROJECT_LOOKUP_MAX = 400
"""Up to this many sessions in a report's span, their projects are looked up by key in `session_signals`
(a week at 5 M responses: ~13 ms); more, and the table is joined whole (~30 ms at 260 k sessions). A list
of constants costs ~0.025 ms a key: past ~400 the join is cheaper."""


def _from(store: Store, by: str | None, where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """The responses, joined to their agents or sessions only when the grouping needs them, and the
    parameters of the whole statement (the join's come first).

    A session whose working folder moved into a subfolder is one project: the one its signals
    name (its first folder), as every pane shows it.
    """
    if by == "project":
        keys = [r[0] for r in store.query(f"SELECT DISTINCT r.session_id {_FROM} WHERE {where}", params)]
        if len(keys) > PROJECT_LOOKUP_MAX:
            return _FROM + " LEFT JOIN session_signals ss ON ss.k = r.session_id", params
        # A list of constants is looked up in the primary key; a join reads the whole table.
        marks = ", ".join("?" * len(keys)) or "NULL"
        lookup = f"(SELECT k, project FROM session_signals WHERE k IN ({marks}))"
        return f"{_FROM} LEFT JOIN {lookup} ss ON ss.k = r.session_id", [*keys, *params]
    if by != "agent-type":
        return _FROM, params
    return _FROM + " LEFT JOIN agents a ON a.session_id = r.session_id AND a.agent_id = r.agent_id", params


RESPONSE_COLUMNS: dict[str, str] = {
    "ts": "r.ts", "project": "r.project", "tier": "r.tier", "source_kind": "r.source_kind",
    "session_id": "r.session_id", "agent": "r.agent",
}  # fmt: skip
"""The fields a ReportFilter filters on, as the responses table `r` names them."""


class ReportError(ValueError):
    """Bad report parameters; the message is one line."""


@dataclass(frozen=True)
class ReportFilter:
    since: date | None = None
    until: date | None = None
    project: str | None = None
    tier: str | None = None
    tz: str = "UTC"
    source_kind: str | None = None
    session: str | None = None
    agents: tuple[str, ...] = ()
    """`agent` values to keep (`--agent KIND`); empty keeps every agent."""

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ReportError(f"unknown time zone {self.tz!r} (use an IANA name such as Europe/Berlin)") from exc

    def where(self, columns: Mapping[str, str] = RESPONSE_COLUMNS) -> tuple[str, list[Any]]:
        """SQL conditions with their parameters; dates become UTC bounds so zone maps apply.

        `columns` names each filtered field in the caller's query (responses `r` by default;
        the scorecard filters turns); a field it does not name is not filtered on.
        """
        clauses: list[str] = []
        params: list[Any] = []
        zone = self.zone()
        conditions: list[tuple[str, str, Any]] = [
            ("ts", "{} >= ?", _utc(datetime.combine(self.since, time.min, zone)) if self.since else None),
            ("ts", "{} < ?", _utc(datetime.combine(self.until + timedelta(days=1), time.min, zone))
             if self.until else None),
            ("project", "{} ILIKE ?", f"%{self.project}%" if self.project else None),
            ("tier", "{} = ?", self.tier),
            ("source_kind", "{} = ?", self.source_kind),
            ("session_id", "{} LIKE ?", f"{self.session}%" if self.session else None),
            ("agent", "{} IN (SELECT unnest(?::VARCHAR[]))", list(self.agents) if self.agents else None),
        ]  # fmt: skip
        for field, sql, value in conditions:
            if value is not None and field in columns:
                clauses.append(sql.format(columns[field]))
                params.append(value)
        return (" AND ".join(clauses) or "TRUE"), params


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _local(tz: str) -> str:
    """Stored UTC time in the report's zone (the zone was validated by ReportFilter.zone)."""
    if tz == "UTC":
        return "r.ts"  # no per-row conversion: keeps all-history reports fast
    return f"timezone('{tz}', r.ts::TIMESTAMPTZ)"


def _group_sql(by: str | None) -> str:
    if by is None:
        return "NULL"
    try:
        return GROUPS[by]
    except KeyError as exc:
        raise ReportError(f"cannot group by {by!r} (choose from {', '.join(GROUPS)})") from exc


def period_rows(
    store: Store, f: ReportFilter, period: str = "day", by: str | None = None, breakdown: bool = False
) -> list[dict[str, Any]]:
    """Spend per day, ISO week (Monday) or month, optionally per group and per model."""
    unit = PERIODS[period]
    where, params = f.where()
    f.zone()
    source, params = _from(store, by, where, params)
    rows = store.query_dicts(
        f"""SELECT date_trunc('{unit}', {_local(f.tz)})::DATE AS period, {_group_sql(by)} AS "group",
                   {_AGGREGATES}
            {source} WHERE {where}
            GROUP BY ALL ORDER BY period, "group" NULLS FIRST""",
        params,
    )
    if breakdown:
        models = store.query_dicts(
            f"""SELECT date_trunc('{unit}', {_local(f.tz)})::DATE AS period, {_group_sql(by)} AS "group",
                       r.model, any_value(r.tier) AS tier, any_value(r.vendor) AS vendor,
                       bool_and(r.priced) AS priced, {_AGGREGATES}
                {source} WHERE {where}
                GROUP BY period, "group", r.model ORDER BY cost_usd DESC NULLS LAST, r.model""",
            params,
        )
        attach_models(rows, models, ("period", "group"))
    out = []
    for r in rows:
        row = tidy_row(r, by)
        if breakdown:
            row["models"] = [model_row(m, None) for m in r.get("models", [])]
        out.append(row)
    return out


def label_months(rows: list[dict[str, Any]]) -> None:
    """A month's period as `2026-11` in the table, JSON and CSV alike, never a day's date."""
    for row in rows:
        if isinstance(row.get("period"), date):
            row["period"] = row["period"].strftime("%Y-%m")


def model_rows(store: Store, f: ReportFilter, by: str | None = None) -> list[dict[str, Any]]:
    """One row per model (and group), with every token class and the cost."""
    where, params = f.where()
    source, params = _from(store, by, where, params)
    rows = store.query_dicts(
        f"""SELECT r.model, any_value(r.tier) AS tier, any_value(r.vendor) AS vendor, {_group_sql(by)} AS "group",
                   {_AGGREGATES},
                   bool_and(r.priced) AS priced
            {source} WHERE {where}
            GROUP BY r.model, "group" ORDER BY cost_usd DESC NULLS LAST, r.model""",
        params,
    )
    return [model_row(r, by) for r in rows]


def session_rows(store: Store, f: ReportFilter, by: str | None = None) -> list[dict[str, Any]]:
    """One row per session: project, span, cost and per-model figures (SPEC §5 contract)."""
    where, params = f.where()
    source, params = _from(store, by, where, params)
    sessions = store.query_dicts(
        f"""SELECT r.session_id, arg_min(r.project, r.ts) AS project, arg_max(r.git_branch, r.ts) AS git_branch,
                   any_value(r.source_kind) AS source_kind, any_value(r.agent) AS agent,
                   any_value(r.vendor) AS vendor, min(r.ts) AS start, max(r.ts) AS "end",
                   {_group_sql(by)} AS "group", {_AGGREGATES}
            {source} WHERE {where}
            GROUP BY r.session_id, "group" ORDER BY start""",
        params,
    )
    models = store.query_dicts(
        f"""SELECT r.session_id, {_group_sql(by)} AS "group", r.model, any_value(r.tier) AS tier,
                   any_value(r.vendor) AS vendor,
                   bool_and(r.priced) AS priced, {_AGGREGATES}
            {source} WHERE {where}
            GROUP BY r.session_id, "group", r.model ORDER BY cost_usd DESC NULLS LAST, r.model""",
        params,
    )
    attach_models(sessions, models, ("session_id", "group"))
    out = []
    for s in sessions:
        row = tidy_row(s, by)
        row["models"] = [model_row(m, None) for m in s.get("models", [])]
        out.append(row)
    return out


def totals(store: Store, f: ReportFilter) -> dict[str, Any]:
    """Grand totals and the unpriced models with their tokens: never silently $0 (SPEC §3)."""
    where, params = f.where()
    total = store.query_dicts(f"SELECT {_AGGREGATES} {_FROM} WHERE {where}", params)[0]
    unpriced = store.query_dicts(
        f"""SELECT r.model, count(*) AS requests, {_SUMS}
            {_FROM} WHERE {where} AND NOT r.priced GROUP BY r.model ORDER BY r.model""",
        params,
    )
    result = tidy_row(total, None)
    result["unpriced_models"] = unpriced
    return result


def blocks(store: Store, f: ReportFilter, now: datetime | None = None) -> list[dict[str, Any]]:
    """5-hour blocks: a block opens at the hour of the first request after the previous one closed."""
    where, params = f.where()
    rows = store.query(
        f"""SELECT r.ts, r.model, r.cost_usd, r.input_tokens + r.output_tokens + r.cache_read_tokens
                   + r.cache_write_5m_tokens + r.cache_write_1h_tokens AS tokens
            {_FROM} WHERE {where} AND r.ts IS NOT NULL ORDER BY r.ts""",
        params,
    )
    now = now or datetime.now(UTC).replace(tzinfo=None)
    length = timedelta(hours=BLOCK_HOURS)
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for ts, model, cost, tok in rows:
        if current is None or ts >= current["end"]:
            start = ts.replace(minute=0, second=0, microsecond=0)
            current = {"start": start, "end": start + length, "first": ts, "last": ts, "requests": 0,
                       "tokens": 0, "cost_usd": 0.0, "unpriced_requests": 0, "unpriced_tokens": 0,
                       "models": set()}  # fmt: skip
            out.append(current)
        current["last"] = ts
        current["requests"] += 1
        current["tokens"] += tok
        current["models"].add(model)
        if cost is None:
            current["unpriced_requests"] += 1
            current["unpriced_tokens"] += tok
        else:
            current["cost_usd"] += cost
    return [finish_block(b, now) for b in out]


def _round6(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def finish_block(block: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Cost, burn rate and projection of a block; None (unpriced, never $0) when no request had a price."""
    active = block["start"] <= now < block["end"]
    elapsed_h = max((block["last"] - block["first"]).total_seconds() / 3600, 1 / 60)
    unpriced = block.get("unpriced_requests", 0)
    priced = unpriced < block["requests"]
    cost = block["cost_usd"] if priced else None
    burn = block["cost_usd"] / elapsed_h if priced else None
    projected = cost
    if active and burn is not None and projected is not None:
        projected += burn * (block["end"] - now).total_seconds() / 3600
    return {
        "start": block["start"],
        "end": block["end"],
        "actual_end": block["last"],
        "is_active": active,
        "requests": block["requests"],
        "tokens": block["tokens"],
        "cost_usd": _round6(cost),
        "unpriced_requests": unpriced,
        "unpriced_tokens": block.get("unpriced_tokens", 0),
        "burn_rate_per_hour": _round6(burn),
        "projected_cost_usd": _round6(projected),
        "models": sorted(block["models"]),
    }


def attach_models(parents: list[dict[str, Any]], children: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    index = {tuple(p[k] for k in keys): p for p in parents}
    for child in children:
        parent = index.get(tuple(child[k] for k in keys))
        if parent is not None:
            parent.setdefault("models", []).append(child)


def tidy_row(row: dict[str, Any], by: str | None) -> dict[str, Any]:
    """Integers for token sums, rounded cost, no `group` key unless grouping."""
    out = dict(row)
    for field in (*TOKEN_FIELDS, "reasoning_tokens"):
        out[field] = int(out.get(field) or 0)
    out["requests"] = int(out.get("requests") or 0)
    cost = out.get("cost_usd")
    out["cost_usd"] = round(cost, 6) if cost is not None else 0.0
    out.pop("timed_output", None)
    out.pop("duration_ms", None)
    if "unpriced_requests" in out:
        out["unpriced_requests"] = int(out["unpriced_requests"] or 0)
        if out["requests"] and out["unpriced_requests"] == out["requests"]:
            out["cost_usd"] = None  # nothing here has a price: unknown, not $0 (SPEC §3)
    if by is None:
        out.pop("group", None)
    return out


def _speed(row: dict[str, Any]) -> float | None:
    """Output tokens per second of generation, over the requests whose log records a duration."""
    ms, tokens = row.get("duration_ms"), row.get("timed_output")
    return round(tokens / (ms / 1000), 3) if ms and tokens else None


def model_row(row: dict[str, Any], by: str | None) -> dict[str, Any]:
    """The per-model object of the JSON contract; an unpriced model has cost null."""
    out = {
        "model": row["model"],
        "tier": row["tier"],
        "vendor": row.get("vendor"),
        "requests": int(row["requests"]),
        **{f: int(row.get(f) or 0) for f in TOKEN_FIELDS},
        "reasoning_tokens": int(row.get("reasoning_tokens") or 0),
        "tokens_per_second": _speed(row),
        "cost_usd": round(row["cost_usd"], 6) if row.get("cost_usd") is not None and row.get("priced") else None,
        "priced": bool(row.get("priced")),
    }
    if by is not None:
        out["group"] = row.get("group")
    return out
