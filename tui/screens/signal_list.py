"""Provides SignalListScreen: the sortable, filterable list behind Alerts and Advice.

Rows are fetched once per refresh (most recent first, capped) and filtered
and sorted in memory, so typing in the filter never waits on the store.
Enter on a row opens its session at that turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static

from tiermon.tui.messages import SessionRequested
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.widgets.cells import clear_rows, clock_time, local, plain, safe

if TYPE_CHECKING:
    from textual.app import ComposeResult

ROW_LIMIT = 2000
"""Most recent rows a list holds; older ones are in `tiermon alerts/advise`."""


@dataclass(frozen=True)
class Column:
    """One list column: how to draw a cell, what to sort it by, how wide it is.

    A column without `cell` is the flexible one: the row's `key` field as plain
    text, cut to whatever width the other columns leave.
    """

    key: str
    label: str
    sort: Callable[[dict[str, Any]], Any]
    cell: Callable[[dict[str, Any]], Text] | None = None
    width: int = 0


class SignalListScreen(DataScreen):
    """A list of signal rows; subclasses give COLUMNS, KINDS and `fetch`."""

    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    KINDS: ClassVar[tuple[str, ...]] = ()
    SEARCH_FIELDS: ClassVar[tuple[str, ...]] = ("project", "kind", "message", "session_id")
    HEADLINE: ClassVar[str] = "message"
    """The field shown in full above the figures for the highlighted row."""
    NOTE: ClassVar[str] = ""
    """A line under the filter that says how to read the list, if it needs one."""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("o", "sort_next", "Sort"),
        Binding("r", "sort_reverse", "Reverse", show=False),
        Binding("escape", "focus_table", "List", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._all: list[dict[str, Any]] = []
        self._shown: list[dict[str, Any]] = []
        self.sort_column = 0
        self.sort_reverse = True

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="filter-bar"):
            yield Input(placeholder="filter: words in project, kind, message", id="filter-text", compact=True)
            yield Select([(k, k) for k in self.KINDS], prompt="all kinds", id="filter-kind", compact=True)
        if self.NOTE:
            yield Static(Text(self.NOTE, style="dim italic"), classes="note")
        table: DataTable[Any] = DataTable(id="signal-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static(id="signal-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in self.COLUMNS:
            table.add_column(column.label, key=column.key)
        table.focus()

    # -- filtering and sorting ---------------------------------------------------

    def show(self, data: list[dict[str, Any]]) -> None:
        self._all = data
        self._render_rows()

    @on(Input.Changed, "#filter-text")
    @on(Select.Changed, "#filter-kind")
    def _filter_changed(self) -> None:
        self._render_rows()

    @on(Input.Submitted, "#filter-text")
    def action_focus_table(self) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_sort_next(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(self.COLUMNS)
        self._render_rows()

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._render_rows()

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        if event.column_index == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column, self.sort_reverse = event.column_index, False
        self._render_rows()

    def matches(self, row: dict[str, Any]) -> bool:
        words = self.query_one("#filter-text", Input).value.lower().split()
        kind = self.query_one("#filter-kind", Select).value
        if kind is not Select.NULL and row.get("kind") != kind:
            return False
        haystack = " ".join(str(row.get(f) or "") for f in self.SEARCH_FIELDS).lower()
        return all(w in haystack for w in words)

    def _render_rows(self) -> None:
        column = self.COLUMNS[self.sort_column]
        rows = [r for r in self._all if self.matches(r)]
        rows.sort(key=lambda r: _sortable(column.sort(r)), reverse=self.sort_reverse)
        self._shown = rows
        table = self.query_one(DataTable)
        keep = table.cursor_row if table.row_count else 0
        clear_rows(table)
        for i, column_spec in enumerate(self.COLUMNS):
            arrow = (" ▼" if self.sort_reverse else " ▲") if i == self.sort_column else ""
            table.columns[table.ordered_columns[i].key].label = Text(column_spec.label + arrow)
        room = self._flex_room()
        for index, row in enumerate(rows):
            table.add_row(
                *(c.cell(row) if c.cell else plain(row.get(c.key), room) for c in self.COLUMNS), key=str(index)
            )
        if rows:
            table.move_cursor(row=min(keep, len(rows) - 1), animate=False)
        self.sub_title = f"{self.TITLE_TEXT} · {len(rows)} of {len(self._all)}"
        self._describe()

    def _flex_room(self) -> int:
        fixed = sum(c.width + 2 for c in self.COLUMNS if c.cell is not None)
        return max((self.size.width or 80) - fixed - 4, 16)

    # -- detail and opening ------------------------------------------------------

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._describe()

    def _current(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not table.row_count or not 0 <= table.cursor_row < len(self._shown):
            return None
        return self._shown[table.cursor_row]

    def _describe(self) -> None:
        row = self._current()
        detail = self.query_one("#signal-detail", Static)
        detail.update(self.describe(row) if row else Text("Nothing to show.", style="dim"))

    def describe(self, row: dict[str, Any]) -> Text:
        """The highlighted row in full: its headline, the figures it rests on, where it happened."""
        text = plain(row.get(self.HEADLINE), 200, style="bold")
        figures = _figures(row.get("figures"))
        if figures:
            text.append("\n")
            text.append_text(plain(figures, 200, style="dim"))
        text.append("\n")
        text.append_text(plain(row.get("project") or "", 60))
        text.append(
            f"  session {safe(str(row.get('session_id'))[:8])} · turn {row.get('turn')}"
            f" · {clock_time(row.get('start'), with_date=True)}",
            style="dim",
        )
        text.append("   Enter: open session there", style="dim")
        return text

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        row = self._current()
        if row is not None:
            self.post_message(SessionRequested(row["session_id"], turn=row.get("turn"), at=row.get("start")))


def _sortable(value: Any) -> tuple[int, Any]:
    """None sorts before everything, whatever the column type."""
    if value is None:
        return (0, 0)
    if isinstance(value, datetime):
        return (1, value.timestamp())
    return (1, value)


def _figures(value: Any) -> str:
    """The numbers a row rests on as `key=value` pairs."""
    if not isinstance(value, dict):
        return ""
    return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items())


WHEN_WIDTH = 12


def when(row: dict[str, Any]) -> Text:
    start = row.get("start")
    return Text(local(start).strftime("%d %b %H:%M") if start else "–", style="dim", no_wrap=True)


PROJECT_WIDTH = 12


def project_name(row: dict[str, Any], limit: int = PROJECT_WIDTH) -> Text:
    project = (row.get("project") or "").rstrip("/").rsplit("/", 1)[-1]
    return plain(project, limit)


def turn_cell(row: dict[str, Any]) -> Text:
    """The turn; none for an API-log session, which has no prompts and so no turns (not "turn 0")."""
    turn = row.get("turn")
    api = str(row.get("session_id") or "").startswith("api:")
    return Text("–" if turn is None or (api and not turn) else str(turn), justify="right")
