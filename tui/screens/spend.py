"""Provides SpendScreen: per-tier spend per day and per week, splits, savings, the 5-hour block."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from tiermon.ingest import formatting as fmt
from tiermon.ingest.queries import cache_savings, current_block, spend_split
from tiermon.ingest.reports import ReportFilter, period_rows, totals
from tiermon.ingest.store import Store
from tiermon.ingest.zone import local_timezone
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.widgets.cells import TIER_STYLES, clear_rows, local_date, money, plain
from tiermon.tui.widgets.charts import TIERS, TierBars

if TYPE_CHECKING:
    from textual.app import ComposeResult

WEEKS_SHOWN = 8
"""Bars in the weekly chart, ending with the picked week (fewer on a narrow screen)."""


class SpendScreen(DataScreen):
    """A lead's weekly view; `[` and `]` pick the week, `.` returns to this week."""

    TITLE_TEXT = "Spend"
    REFRESH_SECONDS: ClassVar[float] = 15.0
    MIN_GAP_SECONDS: ClassVar[float] = 3.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left_square_bracket", "week(-1)", "◂ Week"),
        Binding("right_square_bracket", "week(1)", "Week ▸"),
        Binding("full_stop", "week(0)", "This week", show=False),
        Binding("A", "all_time", "All time"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.zone_name = local_timezone()
        self.week_offset = 0
        """0 = the week containing now, -1 the one before, ..."""
        self.all_time = False
        """The summary and the projects over everything stored instead of the week (the charts stay weekly)."""

    def compose_body(self) -> ComposeResult:
        yield Static(id="spend-summary", classes="summary")
        with Horizontal(id="spend-charts"):
            yield TierBars("Per day", id="spend-daily")
            yield TierBars("Per week", id="spend-weekly")
        yield Static(_legend(), id="spend-legend")
        table: DataTable[Any] = DataTable(id="spend-projects", cursor_type="row", zebra_stripes=True)
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#spend-projects", DataTable)
        for name in ("Project", "Requests", "Cost", "Unpriced"):
            table.add_column(name, key=name.lower())

    def action_week(self, step: int) -> None:
        self.week_offset = 0 if step == 0 else min(self.week_offset + step, 0)
        self.all_time = False
        self.request_refresh()

    def action_all_time(self) -> None:
        self.all_time = not self.all_time
        self.request_refresh()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "week" and parameters == (1,) and self.week_offset >= 0:
            return None  # shown disabled: there is no future week
        return True

    # -- data --------------------------------------------------------------------

    def fetch(self, store: Store) -> dict[str, Any]:
        now = self.tiermon.now()
        zone = ReportFilter(tz=self.zone_name).zone()
        today = local_date(now, self.zone_name)
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=self.week_offset)
        sunday = monday + timedelta(days=6)
        week = ReportFilter(since=monday, until=sunday, tz=self.zone_name)
        weeks = ReportFilter(since=monday - timedelta(weeks=WEEKS_SHOWN - 1), until=sunday, tz=self.zone_name)
        since, until = _utc(monday, zone), _utc(sunday + timedelta(days=1), zone)
        span = week
        if self.all_time:
            span, since, until = ReportFilter(tz=self.zone_name), datetime.min, datetime.max
        return {
            "monday": monday,
            "all_time": self.all_time,
            "days": period_rows(store, week, "day", by="tier"),
            "weeks": period_rows(store, weeks, "week", by="tier"),
            "totals": totals(store, span),
            "split": spend_split(store, since=since, until=until),
            "savings": cache_savings(store, since=since, until=until),
            "projects": model_projects(store, span),
            "block": current_block(store, now=now, tz=self.zone_name),
        }

    def show(self, data: dict[str, Any]) -> None:
        monday: date = data["monday"]
        self.query_one("#spend-summary", Static).update(_summary(data))
        present = {str(r.get("group")) for r in (*data["days"], *data["weeks"]) if r.get("cost_usd")}
        self.query_one("#spend-legend", Static).update(_legend(present))
        days = [monday + timedelta(days=i) for i in range(7)]
        marker = _unpriced_marker(data["totals"])
        self.query_one("#spend-daily", TierBars).set_data(
            [d.strftime("%a") for d in days], _series(data["days"], days),
            title=f"$ per day · week of {monday:%d %b}{marker}",
        )
        shown = min(WEEKS_SHOWN, max(self.size.width // 20, 3))
        weeks = [monday - timedelta(weeks=i) for i in reversed(range(shown))]
        self.query_one("#spend-weekly", TierBars).set_data(
            [w.strftime("%d/%m") for w in weeks], _series(data["weeks"], weeks),
            title=f"$ per week · last {shown}{marker}",
        )
        table = self.query_one("#spend-projects", DataTable)
        clear_rows(table)
        rows = sorted(data["projects"], key=lambda r: r["cost_usd"] or 0.0, reverse=True)
        for row in rows:
            table.add_row(
                plain(row.get("group") or "(none)", 60, tail=True),  # a long path keeps its project name
                Text(f"{row['requests']:,}", justify="right"),
                money(row["cost_usd"]),
                Text(str(row["unpriced_requests"] or ""), justify="right", style="yellow"),
            )
        self.refresh_bindings()


def model_projects(store: Store, span: ReportFilter) -> list[dict[str, Any]]:
    """Cost per project over the span, one row per project (a week, or all time)."""
    rows: dict[str, dict[str, Any]] = {}
    for row in period_rows(store, span, "month", by="project"):
        into = rows.setdefault(row.get("group") or "", {"group": row.get("group"), "requests": 0, "cost_usd": None,
                                                        "unpriced_requests": 0})  # fmt: skip
        into["requests"] += row["requests"]
        into["unpriced_requests"] += row["unpriced_requests"] or 0
        if row["cost_usd"] is not None:
            into["cost_usd"] = (into["cost_usd"] or 0.0) + row["cost_usd"]
    return list(rows.values())


def _utc(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min, zone).astimezone(UTC).replace(tzinfo=None)


def _series(rows: list[dict[str, Any]], periods: list[date]) -> dict[str, list[float]]:
    index = {p: i for i, p in enumerate(periods)}
    series = {t: [0.0] * len(periods) for t in TIERS}
    for row in rows:
        i = index.get(row["period"])
        tier = str(row.get("group"))
        tier = tier if tier in series else "other"
        if i is not None:
            series[tier][i] += row["cost_usd"] or 0.0
    return series


def _summary(data: dict[str, Any]) -> Text:
    monday: date = data["monday"]
    total = data["totals"]
    text = Text.assemble(
        ("All time" if data.get("all_time") else f"Week of {monday:%a %d %b %Y}", "bold"),
        "  ",
        (fmt.money(total["cost_usd"]), "bold"),
        f" · {fmt.plural(total['requests'], 'request')}",
    )
    if total.get("unpriced_requests"):
        text.append(f" · {total['unpriced_requests']} unpriced", style="yellow")
    main = _part(data["split"], lambda r: r["chain"] == "main")
    sub = _part(data["split"], lambda r: r["chain"] == "subagent")
    sub_haiku = _part(data["split"], lambda r: r["chain"] == "subagent" and r["tier"] == "haiku")
    text.append(f"\nMain chain {fmt.money_part(*main)} · subagents {fmt.money_part(*sub)}")
    if sub[0] or sub[1]:
        text.append(f" (haiku {fmt.money_part(*sub_haiku)})")
    savings = data["savings"]
    text.append(" · cache saved ")
    text.append(fmt.money(savings["saved_usd"]), style="green")
    text.append(f" (hit {savings['hit_ratio']:.0%})")
    block = data["block"]
    text.append("\n")
    if block is None:
        text.append("No 5-hour block in progress", style="dim")
    else:
        start, end = block["start"], block["end"]
        text.append("5-hour block ", style="bold")
        text.append(
            f"{_hm(start)}–{_hm(end)}: {fmt.money_part(block['cost_usd'], block.get('unpriced_tokens') or 0)} so far · "
            f"burn {fmt.money(block['burn_rate_per_hour'])}/h · "
        )
        text.append(f"projected {fmt.money(block['projected_cost_usd'])}", style="bold")
    return text


def _unpriced_marker(total: dict[str, Any]) -> str:
    """` + unpriced (1.2M tok)` when the bars leave out requests with no price: they are not $0."""
    tokens = sum(
        sum(m.get(f) or 0 for f in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                                    "cache_write_1h_tokens"))
        for m in total.get("unpriced_models") or []
    )  # fmt: skip
    return f" + {fmt.UNPRICED} ({fmt.tokens(tokens)} tok)" if tokens else ""


def _part(rows: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> tuple[float | None, int]:
    """(priced USD or None when nothing kept had a price, unpriced tokens) of the rows kept."""
    kept = [r for r in rows if keep(r)]
    costs = [r["cost_usd"] for r in kept if r["cost_usd"] is not None]
    return (sum(costs) if costs or not kept else None), sum(r.get("unpriced_tokens") or 0 for r in kept)


def _hm(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).astimezone().strftime("%H:%M")


def _legend(present: set[str] | None = None) -> Text:
    """The tiers with spend in view (Anthropic's three when nothing is): other vendors' rungs appear as used."""
    shown = [t for t in TIERS if t in present] if present else ["haiku", "sonnet", "opus"]
    text = Text("Tiers: ", style="dim")
    for tier in shown:
        text.append("■ ", style=TIER_STYLES[tier])
        text.append(tier + "  ")
    return text
