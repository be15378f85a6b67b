"""Provides SessionScreen: one session's timeline, subagents, context growth and signals."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static, TabbedContent, TabPane, Tree

from tiermon.ingest import formatting as fmt
from tiermon.ingest.signals.views import session_timeline
from tiermon.ingest.store import Store
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.screens.timeline import timeline_rows
from tiermon.tui.widgets.cells import TIER_STYLES, clear_rows, clock_time, model_short, money, plain, safe
from tiermon.tui.widgets.charts import ContextChart

if TYPE_CHECKING:
    from textual.app import ComposeResult

class SessionScreen(DataScreen):
    """Opened from any list; Escape goes back to it."""

    TITLE_TEXT = "Session"
    REFRESH_SECONDS: ClassVar[float] = 30.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("1", "tab('timeline')", "Timeline", show=False),
        Binding("2", "tab('subagents')", "Subagents", show=False),
        Binding("3", "tab('context')", "Context", show=False),
        Binding("4", "tab('signals')", "Signals", show=False),
    ]

    def __init__(self, session_id: str, *, turn: int | None = None, at: datetime | None = None) -> None:
        super().__init__()
        self.session_id = session_id
        self.place_turn = turn
        self.place_at = at
        """Where to open the timeline: the turn an alert names, else the first row at its time."""
        self._placed = False
        self._rows: list[dict[str, Any]] = []
        self._signal_places: list[tuple[int | None, datetime | None]] = []

    def compose_body(self) -> ComposeResult:
        yield Static(id="session-head", classes="summary")
        with TabbedContent(id="session-tabs"):
            with TabPane("Timeline", id="timeline"):
                yield DataTable(id="timeline-table", cursor_type="row")
                yield Static(id="timeline-detail", classes="detail")
            with TabPane("Subagents", id="subagents"):
                yield Tree("Session", id="agent-tree")
            with TabPane("Context", id="context"):
                yield ContextChart(id="context-chart")
            with TabPane("Signals", id="signals"):
                yield DataTable(id="session-signals", cursor_type="row", zebra_stripes=True)

    def screen_title(self) -> str:
        return "Session " + safe(self.session_id[:8])

    def on_mount(self) -> None:
        table = self.query_one("#timeline-table", DataTable)
        for name in ("Time", "Model", "Context", "Out", "Cost", "What"):
            table.add_column(name, key=name.lower())
        signals = self.query_one("#session-signals", DataTable)
        for name in ("Time", "Kind", "Turn", "What"):
            signals.add_column(name, key=name.lower())
        self.query_one("#session-head", Static).update(Text(f"Loading session {self.session_id}…", style="dim"))

    def concerns(self, sessions: frozenset[str]) -> bool:
        return self.session_id in sessions

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    # -- data --------------------------------------------------------------------

    def fetch(self, store: Store) -> dict[str, Any]:
        return session_timeline(store, self.session_id)

    def show(self, data: dict[str, Any]) -> None:
        session = data.get("session") or {}
        self.query_one("#session-head", Static).update(_head(self.session_id, session, data))
        self._show_timeline(data)
        self._show_agents(session, data)
        self._show_context(session, data)
        self._show_signals(data)

    def _show_timeline(self, data: dict[str, Any]) -> None:
        table = self.query_one("#timeline-table", DataTable)
        keep = table.cursor_row if table.row_count else None
        at_end = keep is not None and keep == table.row_count - 1
        clear_rows(table)
        self._rows = timeline_rows(data, room=max(self.size.width - 52, 16))
        if at_end:
            keep = len(self._rows) - 1  # the cursor on the last row follows new activity
        for row in self._rows:
            table.add_row(*row["cells"], key=row["key"])
        if self._rows and not self._placed:
            self._placed = True
            keep = self._place_index()
            if self.query_one(TabbedContent).active == "timeline":
                table.focus()
        if keep is not None and self._rows:
            table.move_cursor(row=min(keep, len(self._rows) - 1), animate=False, scroll=True)
        self._describe_row()

    def _place_index(self) -> int | None:
        """The row to open at: the turn named by the alert, else the first row at or after its time."""
        if self.place_turn is not None:
            for index, row in enumerate(self._rows):
                if row["kind"] == "turn" and row.get("turn") == self.place_turn:
                    return index
        if self.place_at is not None:
            for index, row in enumerate(self._rows):
                if row["ts"] is not None and row["ts"] >= self.place_at:
                    return index
        return None

    @on(DataTable.RowSelected, "#session-signals")
    def _go_to_signal(self, event: DataTable.RowSelected) -> None:
        """Enter on an alert or advice row: show the timeline at its place."""
        if not 0 <= event.cursor_row < len(self._signal_places):
            return
        self.place_turn, self.place_at = self._signal_places[event.cursor_row]
        self.move_to_place()

    def move_to_place(self) -> None:
        index = self._place_index()
        self.action_tab("timeline")
        if index is not None:
            table = self.query_one("#timeline-table", DataTable)
            table.move_cursor(row=index, animate=False, scroll=True)
            table.focus()

    @on(DataTable.RowHighlighted, "#timeline-table")
    def _describe_row(self) -> None:
        table = self.query_one("#timeline-table", DataTable)
        detail = self.query_one("#timeline-detail", Static)
        if not table.row_count or not 0 <= table.cursor_row < len(self._rows):
            detail.update("")
            return
        detail.update(self._rows[table.cursor_row]["detail"])

    def _show_agents(self, session: dict[str, Any], data: dict[str, Any]) -> None:
        tree: Tree[None] = self.query_one("#agent-tree", Tree)
        tree.clear()
        agents: list[dict[str, Any]] = data.get("subagents") or []
        main_unpriced = (session.get("unpriced_tokens") or 0) - (session.get("subagent_unpriced_tokens") or 0)
        main_cost = None if session.get("cost_usd") is None else (
            session["cost_usd"] - (session.get("subagent_cost_usd") or 0.0)
        )
        main_models = dict.fromkeys(
            r["model"] for r in data.get("responses") or []
            if not r.get("is_sidechain") and not r.get("agent_id") and r.get("model") != "<synthetic>"
        )
        label = Text("Main chain ", style="bold")
        label.append(", ".join(model_short(m) for m in main_models), style="dim")
        label.append(f"  {fmt.money_part(main_cost, main_unpriced)}")
        tree.root.set_label(label)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for agent in agents:
            grouped.setdefault(str(agent.get("agent_id")), []).append(agent)
        for agent_id, rows in grouped.items():
            first = rows[0]
            node_label = plain(first.get("agent_type") or "subagent", 24, style="bold")
            node_label.append(" " + safe(agent_id[:10]), style="dim")
            requests = sum(r.get("requests") or 0 for r in rows)
            node_label.append(f"  {requests} req  {_agent_cost(rows)}")
            if first.get("description"):
                node_label.append("  ")
                node_label.append_text(plain(first["description"], 40, style="italic"))
            node = tree.root.add(node_label, expand=True)
            for row in rows:
                leaf = Text(model_short(row.get("model")), style=TIER_STYLES.get(row.get("tier") or "", ""))
                leaf.append(f"  {row.get('requests') or 0} req  {fmt.money(row.get('cost_usd'))}")
                node.add_leaf(leaf)
        if not agents:
            tree.root.add_leaf(Text("no subagents", style="dim"))
        tree.root.expand()

    def _show_context(self, session: dict[str, Any], data: dict[str, Any]) -> None:
        points = [
            (r["ts"], r.get("context_tokens") or 0)
            for r in data.get("responses") or []
            if not r.get("is_sidechain") and not r.get("agent_id") and r.get("ts") is not None
        ]
        marks = [c["ts"] for c in data.get("compactions") or [] if c.get("ts") is not None]
        limit = session.get("context_limit") or session.get("context_window")
        self.query_one(ContextChart).set_data(points, limit, marks)

    def _show_signals(self, data: dict[str, Any]) -> None:
        table = self.query_one("#session-signals", DataTable)
        clear_rows(table)
        rows = [
            (a.get("start"), a.get("kind"), a.get("turn"), a.get("message"), a.get("severity") == "warn")
            for a in data.get("alerts") or []
        ]
        rows += [
            (a.get("start"), a.get("kind"), a.get("turn"), _advice_line(a), False) for a in data.get("advice") or []
        ]
        rows.sort(key=lambda r: r[0] or datetime.min)
        self._signal_places = [(turn, start) for start, _kind, turn, _what, _warn in rows]
        for start, kind, turn, what, warn in rows:
            table.add_row(
                Text(clock_time(start), style="dim"),
                plain(kind, 16, style="bold red" if warn else ""),
                Text("–" if turn is None else str(turn), justify="right"),
                plain(what, 90),
            )


def _advice_line(row: dict[str, Any]) -> str:
    return (f"{row.get('from_tier')}→{row.get('to_tier')}: turn cost {fmt.money(row.get('cost_usd'))}, "
            f"what-if {fmt.money(row.get('counterfactual_cost_usd'))} · {row.get('reason') or ''}")


def _head(session_id: str, session: dict[str, Any], data: dict[str, Any]) -> Text:
    text = plain(session.get("project") or "?", 50, style="bold")
    if session.get("git_branch") or session.get("branch"):
        text.append("  ")
        text.append_text(plain(session.get("git_branch") or session.get("branch"), 30, style="italic"))
    text.append("  " + safe(session_id), style="dim")
    text.append("\n")
    text.append(f"{clock_time(session.get('start'), with_date=True)} → {clock_time(session.get('end'))}  ")
    priced = session.get("cost_usd") or not session.get("unpriced_requests")
    text.append_text(money(session.get("cost_usd") if priced else None))  # all unpriced: not "$0.00"
    if session.get("unpriced_requests") and priced:
        text.append(f" + {fmt.plural(session['unpriced_requests'], 'unpriced request')}", style="yellow")
    turns = [t for t in data.get("turns") or [] if t.get("turn")]
    if not data.get("turns") and session_id.startswith("api:"):
        text.append(f" · {fmt.plural(len(data.get('responses') or []), 'API call')} (an API log has no turns)")
    else:
        switches = len(data.get("switches") or [])
        agents = len({a.get("agent_id") for a in data.get("subagents") or []})
        text.append(f" · {fmt.plural(len(turns), 'turn')} · {fmt.plural(switches, 'switch', 'switches')}"
                    f" · {fmt.plural(agents, 'subagent')}")
    if session.get("max_context"):
        text.append(f" · peak context {fmt.tokens(session['max_context'])}")
    return text


def _agent_cost(rows: list[dict[str, Any]]) -> str:
    """A subagent's cost over its models, with the unpriced ones' tokens beside it (never as $0)."""
    priced = [r["cost_usd"] for r in rows if r.get("cost_usd") is not None]
    unpriced = sum(
        sum(r.get(f) or 0 for f in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                                    "cache_write_1h_tokens"))
        for r in rows if r.get("cost_usd") is None
    )  # fmt: skip
    return fmt.money_part(sum(priced) if priced else None, unpriced)
