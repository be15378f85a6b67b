"""Provides LiveScreen: the sessions active right now, newest activity first."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from tiermon.ingest import formatting as fmt
from tiermon.ingest.limits import plan_limits
from tiermon.ingest.queries import current_block, live_sessions
from tiermon.ingest.reports import ReportFilter, totals
from tiermon.ingest.sources import SOURCES
from tiermon.ingest.store import Store
from tiermon.ingest.zone import local_timezone
from tiermon.tui.messages import SessionRequested
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.widgets.cells import clear_rows, fill_bar, local_date, model_text, money, plain, safe
from tiermon.tui.widgets.limits_strip import limits_text

if TYPE_CHECKING:
    from textual.app import ComposeResult

RECENT_WINDOW = timedelta(days=7)
RECENT_LIMIT = 12
"""Below the active sessions, this many earlier ones (dimmed), so the pane is never a blank table."""
ROW_LIMIT = 100
COLUMNS = ("Project", "Branch", "Model", "Cost", "Context", "Cache", "Last", "Alerts")


class LiveScreen(DataScreen):
    """Active sessions: model and tier now, cost so far, context fill, cache state, alerts."""

    TITLE_TEXT = "Live"
    REFRESH_SECONDS: ClassVar[float] = 5.0
    MIN_GAP_SECONDS: ClassVar[float] = 0.5

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="heading"):
            yield Static(id="live-heading")
            yield Static(id="live-today")
        yield Static(id="live-limits", classes="heading")
        table: DataTable[Any] = DataTable(id="live-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="live-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name.lower())
        self.query_one("#live-heading", Static).update(Text("Reading the store…", style="dim"))
        self._rows: dict[str, dict[str, Any]] = {}

    def fetch(self, store: Store) -> dict[str, Any]:
        now = self.tiermon.now()
        window = timedelta(minutes=self.tiermon.settings.thresholds.live_window_minutes)
        rows = live_sessions(store, now=now, window=RECENT_WINDOW, limit=ROW_LIMIT)
        for row in rows:
            row["active"] = row["last_activity"] >= now - window
        active = sum(row["active"] for row in rows)
        zone = local_timezone()
        today = local_date(now, zone)
        spent = totals(store, ReportFilter(since=today, until=today, tz=zone))
        return {"rows": rows[: max(active, 0) + RECENT_LIMIT], "active": active, "now": now, "window": window,
                "today": spent["cost_usd"], "block": current_block(store, now=now, tz=zone), "zone": zone,
                "limits": plan_limits(store, now=now, agents=_agents(self.tiermon.settings.agents))}

    def show(self, data: dict[str, Any]) -> None:
        rows: list[dict[str, Any]] = data["rows"]
        now: datetime = data["now"]
        minutes = int(data["window"].total_seconds() // 60)
        earlier = len(rows) - data["active"]
        heading = Text.assemble((f"{data['active']} active", "bold"), f" ({minutes} min)")
        if earlier:
            heading.append(f" · {earlier} earlier, dimmed", style="dim")
        if not rows:
            heading = Text("No sessions in the last 7 days: see Spend (s), Alerts (a)", style="bold")
        self.query_one("#live-heading", Static).update(heading)
        self.query_one("#live-today", Static).update(_today(data["today"], data["block"]))
        strip = self.query_one("#live-limits", Static)
        strip.update(limits_text(data["limits"], now, ZoneInfo(data["zone"]), width=self.size.width - 2))
        strip.display = bool(data["limits"])
        table = self.query_one(DataTable)
        keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        clear_rows(table)
        # Cells for project, branch and the context bar: what 80 columns leave, more when wider.
        extra = max(self.size.width, 80) - 80
        rooms = (11 + extra // 3, 9 + extra // 5, 4 if extra < 20 else 6)
        self._rows = {r["session_id"]: r for r in rows}
        self.tiermon.recent_sessions = rows
        for row in rows:
            table.add_row(*self._cells(row, now, rooms), key=row["session_id"])
        if keep in self._rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self._describe()

    def _cells(self, row: dict[str, Any], now: datetime, rooms: tuple[int, int, int]) -> list[Text]:
        project_room, branch_room, bar = rooms
        dim = not row["active"]
        style = "dim" if dim else ""
        project = (row.get("project") or "").rstrip("/").rsplit("/", 1)[-1] or row["session_id"]
        return [
            plain(project, project_room, style="bold" if not dim else "dim"),
            plain(row.get("branch") or "", branch_room, style=style),
            model_text(row.get("model"), row.get("tier")),
            money(row.get("cost_usd"), unpriced=bool(row.get("unpriced"))),
            fill_bar(row.get("context_tokens"), row.get("context_window"), width=bar),
            _cache_cell(row) if not dim else Text("–", style="dim"),
            Text(fmt.ago(row.get("last_activity"), now), justify="right", style=style),
            _badges(row),
        ]

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._describe()

    def _describe(self) -> None:
        """The highlighted session in full below the table: path, context, cache."""
        table = self.query_one(DataTable)
        detail = self.query_one("#live-detail", Static)
        if not table.row_count:
            detail.update("")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        row = self._rows.get(key or "")
        if row is None:
            return
        text = Text()
        text.append_text(plain(row.get("project") or "?", 60, style="bold"))
        text.append("  session " + safe(row["session_id"][:8]), style="dim")
        text.append("  Enter: open", style="dim")
        if row.get("context_tokens"):
            text.append(
                f"\ncontext {fmt.tokens(row['context_tokens'])} of {fmt.tokens(row.get('context_window'))}"
                " (where it compacts)"
            )
        if row.get("cache_hit_ratio") is not None:
            text.append(f" · cache hit {row['cache_hit_ratio']:.0%}")
        if row.get("unpriced"):
            text.append(" · * includes unpriced requests", style="yellow")
        state = row.get("cache_state") if row["active"] else None
        if state in ("warm", "expiring"):
            text.append(f" · idle {_minutes(row['idle_seconds'])} of a {row['cache_lifetime'] // 60}m cache")
        elif state == "expired":
            text.append(" · cache expired: the next request rebuilds it")
        detail.update(text)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(SessionRequested(event.row_key.value))


def _agents(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The rows' `agent` values that `--agent KIND` names."""
    return tuple(SOURCES[kind].agent for kind in kinds if kind in SOURCES)


def _today(spent: float, block: dict[str, Any] | None) -> Text:
    """Today's spend and the 5-hour block in progress: the figures a developer glances at."""
    text = Text.assemble("Today ", (fmt.money(spent), "bold"))
    if block is not None:
        text.append(f" · block {fmt.money(block['cost_usd'])} at {fmt.money(block['burn_rate_per_hour'])}/h")
    return text


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _cache_cell(row: dict[str, Any]) -> Text:
    state = row.get("cache_state")
    if state == "expiring":
        left = max(row["cache_lifetime"] - (row.get("idle_seconds") or 0), 0)
        return Text(f"exp {int(left // 60)}m{int(left % 60):02d}", style="bold yellow")
    if state == "expired":
        return Text("expired", style="red")
    if state == "warm":
        return Text("warm", style="green")
    return Text("–", style="dim")


def _badges(row: dict[str, Any]) -> Text:
    warn, total = row.get("warnings", 0), row.get("alerts", 0)
    text = Text()
    if warn:
        text.append(f"▲{warn}", style="bold red")
    if total - warn:
        text.append((" " if warn else "") + f"●{total - warn}", style="yellow")
    return text or Text("–", style="dim")
