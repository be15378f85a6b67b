"""Provides SessionsScreen: every stored session of every agent, newest first, searchable; Enter opens one.

The search goes to the store (project, branch, first prompt, id), so it
finds sessions of any age, not only those a capped list happened to hold;
typing re-queries after a short pause.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from tiermon.ingest import formatting as fmt
from tiermon.ingest.sessions import count_sessions, list_sessions
from tiermon.ingest.store import Store
from tiermon.tui.messages import SessionRequested
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.widgets.cells import clear_rows, local, model_short, money, plain

if TYPE_CHECKING:
    from textual.app import ComposeResult

ROW_LIMIT = 1000
"""Newest sessions listed at once; the search reaches every one."""
SEARCH_DELAY = 0.3
AGENT_WIDTH = 8
COLUMNS = ("Last active", "Agent", "Project", "Branch", "Model", "Turns", "Cost", "First prompt")


class SessionsScreen(DataScreen):
    """All sessions, all time: search by project, branch or first prompt."""

    TITLE_TEXT = "Sessions"
    REFRESH_SECONDS: ClassVar[float] = 30.0
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search"),
        Binding("escape", "leave_search", "List", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.search = ""
        self._search_timer: Timer | None = None
        self._search_pending = False
        self._rows: dict[str, dict[str, Any]] = {}

    def compose_body(self) -> ComposeResult:
        with Horizontal(classes="filter-bar"):
            yield Input(placeholder="search: project, branch, first prompt", id="sessions-search", compact=True)
        yield Static(id="sessions-heading", classes="note")
        yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="sessions-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in COLUMNS:
            table.add_column(name, key=name.lower())
        self.query_one("#sessions-heading", Static).update(Text("Reading the store…", style="dim"))
        table.focus()

    def fetch(self, store: Store) -> dict[str, Any]:
        rows = list_sessions(store, search=self.search or None, limit=ROW_LIMIT)
        return {"rows": rows, "total": count_sessions(store), "search": self.search}

    def show(self, data: dict[str, Any]) -> None:
        rows: list[dict[str, Any]] = data["rows"]
        heading = Text.assemble((fmt.plural(data["total"], "session"), "bold"), " stored")
        if data["search"]:
            heading.append(f" · {len(rows)} match ", style="")
            heading.append_text(plain(data["search"], 40, style="italic"))
        elif len(rows) < data["total"]:
            heading.append(f" · newest {len(rows)} shown; search reaches all", style="dim")
        if not rows:
            heading.append("  (nothing matches)" if data["search"] else "  (none yet)", style="dim")
        self.query_one("#sessions-heading", Static).update(heading)
        table = self.query_one(DataTable)
        keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        clear_rows(table)
        self._rows = {r["session_id"]: r for r in rows}
        widths = _widths(self.size.width)
        for row in rows:
            table.add_row(*self._cells(row, widths), key=row["session_id"])
        if keep in self._rows:
            table.move_cursor(row=table.get_row_index(keep), animate=False)
        self._describe()

    def _cells(self, row: dict[str, Any], widths: tuple[int, int, int]) -> list[Text]:
        models = row.get("models") or []
        project, branch, prompt = widths
        return [
            Text(_when(row.get("end")), no_wrap=True),
            plain(_agent(row.get("agent")), AGENT_WIDTH, style="dim"),
            plain(_project(row), project, style="bold"),
            plain(row.get("branch") or "", branch),
            Text(model_short(models[-1]) + (f" +{len(models) - 1}" if len(models) > 1 else "") if models else "–",
                 no_wrap=True),
            Text(str(row.get("turns") or 0), justify="right"),
            money(row.get("cost_usd"), unpriced=row.get("cost_usd") is None) if row.get("requests")
            else Text(fmt.NO_USAGE, style="dim", justify="right"),
            plain(row.get("first_prompt") or "", prompt, style="dim") if prompt else Text(""),
        ]  # fmt: skip

    @on(Input.Changed, "#sessions-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value.strip()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_pending = True
        self._search_timer = self.set_timer(SEARCH_DELAY, self._run_search)

    def _run_search(self) -> None:
        self._search_pending = False
        self.request_refresh()

    @property
    def is_loading(self) -> bool:
        """A typed search waiting for its pause counts as loading: tests wait for its answer."""
        return super().is_loading or self._search_pending

    @on(Input.Submitted, "#sessions-search")
    def _search_submitted(self) -> None:
        self.query_one(DataTable).focus()

    def action_focus_search(self) -> None:
        self.query_one("#sessions-search", Input).focus()

    def action_leave_search(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._describe()

    def _describe(self) -> None:
        table = self.query_one(DataTable)
        detail = self.query_one("#sessions-detail", Static)
        if not table.row_count:
            detail.update("")
            return
        row = self._rows.get(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or "")
        if row is None:
            return
        text = Text()
        text.append_text(plain(row.get("project") or "?", 60, style="bold"))
        text.append("  session ")
        text.append_text(plain(row["session_id"], 40, style="dim"))
        text.append(f"  {fmt.plural(row['requests'], 'request')}  Enter: open", style="dim")
        if row.get("first_prompt"):
            text.append("\n")
            text.append_text(plain(row["first_prompt"], 200, style="italic"))
        detail.update(text)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(SessionRequested(event.row_key.value))


def _widths(width: int) -> tuple[int, int, int]:
    """Project, branch and first-prompt cells: what the fixed columns leave, the prompt taking the rest."""
    room = max(width, 80) - 80
    project, branch = 12 + room // 5, 8 + room // 8
    fixed = 11 + AGENT_WIDTH + 13 + 5 + 9 + 2 * len(COLUMNS) + 2
    prompt = width - fixed - project - branch
    return project, branch, prompt if prompt >= 8 else 0


def _when(moment: datetime | None) -> str:
    return local(moment).strftime("%m-%d %H:%M") if moment else "–"


def _agent(agent: str | None) -> str:
    return {"claude-code": "claude", "gemini-cli": "gemini", "qwen-code": "qwen"}.get(agent or "", agent or "")


def _project(row: dict[str, Any]) -> str:
    project = (row.get("project") or "").rstrip("/").rsplit("/", 1)[-1]
    return project or str(row["session_id"])
