"""Provides TiermonApp and make_app: the dashboard, with live ingest in the same process.

Ingest runs in one thread worker at a time (group "ingest"); a file event or
the periodic scan that arrives while it runs sets a flag and one more pass
follows, so bursts of appends coalesce. Each pass commits in short holds of
the database (see ingest/runner.py) and posts DataChanged after each, and the
visible pane re-queries. Panes open the store per query and close it, so a
second tiermon, `tiermon report` or `tiermon export` can use the same file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from tiermon.ingest.config import Settings
from tiermon.ingest.runner import Ingestor
from tiermon.ingest.store import KeptFile, StoreError, keep_open, stop_keeping
from tiermon.ingest.summary import IngestSummary
from tiermon.tui.demo import DemoWorkspace, play
from tiermon.tui.messages import (
    DataChanged,
    IngestFinished,
    IngestProgressed,
    SessionRequested,
    StoreReady,
)
from tiermon.tui.screens.advice import AdviceScreen
from tiermon.tui.screens.alerts import AlertsScreen
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.screens.health import HealthScreen
from tiermon.tui.screens.live import LiveScreen
from tiermon.tui.screens.models import ModelsScreen
from tiermon.tui.screens.session import SessionScreen
from tiermon.tui.screens.sessions import SessionsScreen
from tiermon.tui.screens.spend import SpendScreen
from tiermon.tui.screens.team import TeamScreen
from tiermon.tui.screens.welcome import WelcomeScreen
from tiermon.tui.widgets.session_commands import SessionCommands
from tiermon.tui.widgets.status_bar import IngestStatus

Clock = Callable[[], datetime]

SCAN_SECONDS = 3.0
"""The safety-net scan: file events can be missed (network drives, editors that replace files)."""
WATCH_DEBOUNCE_MS = 150
"""Short enough that a new line shows within a second, long enough to batch a streamed reply."""
LOCK_WAIT = 2.0
"""How long a dashboard pass waits for the database before giving up until the next tick."""
QUERY_WAIT_SECONDS = 1.5
"""A pane waits this long for another process's write before skipping a refresh."""
KNOCK_CHECK_SECONDS = 0.02
"""How often the dashboard looks for a knock on the store it keeps open: another tiermon that needs the
file (a report, an ingest) waits about this much longer than it would for a closed one."""
BACKFILL_BYTES = 2 * 1024 * 1024
"""A pass with more than this to read shows a progress bar; smaller ones update silently."""
PROGRESS_INTERVAL = 0.1
"""Seconds between progress messages from the ingest thread."""

PANES: dict[str, tuple[str, str]] = {
    "live": ("Live", "Sessions active right now"),
    "spend": ("Spend", "Spend per tier per day and week, blocks, savings"),
    "sessions": ("Sessions", "Every stored session, all time, searchable"),
    "alerts": ("Alerts", "Model switches, thrash, churn, context and cache alerts"),
    "advice": ("Advice", "Where a cheaper or stronger model would have paid off"),
    "models": ("Models", "Each model's cost and struggle rates on your work; policy replay"),
    "health": ("Health", "Sources, files tailed, quarantine, unknown types, unpriced share"),
    "team": ("Team", "Spend across the team from the PostgreSQL sink (leads)"),
}


class TiermonApp(App[None]):
    """The tiermon dashboard."""

    CSS_PATH = "app.tcss"
    TITLE = "tiermon"
    COMMANDS = App.COMMANDS | {SessionCommands}
    MODES: ClassVar[dict[str, Any]] = {
        "live": LiveScreen,
        "spend": SpendScreen,
        "sessions": SessionsScreen,
        "alerts": AlertsScreen,
        "advice": AdviceScreen,
        "models": ModelsScreen,
        "health": HealthScreen,
    }
    DEFAULT_MODE = "live"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "show('live')", "Live"),
        Binding("s", "show('spend')", "Spend"),
        Binding("e", "show('sessions')", "Sessions"),
        Binding("a", "show('alerts')", "Alerts"),
        Binding("v", "show('advice')", "Advice"),
        Binding("m", "show('models')", "Models"),
        Binding("h", "show('health')", "Health"),
        Binding("T", "show('team')", "Team", show=False),
        Binding("t", "toggle_theme", "Theme", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        watch: bool = True,
        workspace: DemoWorkspace | None = None,
        first_run: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.watching = watch
        """Watch the sources and rescan periodically (False: read once at start)."""
        self.workspace = workspace
        self.first_run = first_run
        """No agent data was found: greet with the welcome screen, which offers the demo."""
        self.wants_demo = False
        """Set when the user chose the demo on the welcome screen; the launcher opens it after exit."""
        self.query_wait = QUERY_WAIT_SECONDS
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self.ingestor = Ingestor(settings)
        self.add_mode("team", lambda: TeamScreen(self.settings, clock=self._clock))
        self.status = IngestStatus()
        self.status_signal: Signal[IngestStatus] = Signal(self, "status")
        self.recent_sessions: list[dict[str, Any]] = []
        """What the Live pane showed last; the palette's "Open session" searches it."""
        self.store_ready = False
        """Set once an ingest pass has opened (and migrated) the store; panes wait for it."""
        self._ingesting = False
        self._ingest_again = False
        self._scan_timer: Timer | None = None
        self._kept: KeptFile | None = None
        self._stop_watching = asyncio.Event()

    def now(self) -> datetime:
        """The app's notion of now, naive UTC like the store (tests freeze it)."""
        moment = self._clock()
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment

    @property
    def is_ingesting(self) -> bool:
        return self._ingesting

    def on_mount(self) -> None:
        self._kept = keep_open(self.settings.db_path)
        self.set_interval(KNOCK_CHECK_SECONDS, self._let_go_if_knocked)
        self.request_ingest()
        if self.watching:
            self._watch_sources()
        if self.workspace is not None:
            self._play_demo(self.workspace)
            self.sub_title = "DEMO · generated sample data"
        if self.first_run:
            self.push_screen(WelcomeScreen(), self._welcomed)

    def _welcomed(self, choice: str | None) -> None:
        if choice == "demo":
            self.wants_demo = True
            self.exit()
        elif choice == "quit":
            self.exit()

    def on_unmount(self) -> None:
        self._stop_watching.set()
        stop_keeping(self.settings.db_path)

    def _let_go_if_knocked(self) -> None:
        """Panes and passes share one open store (`store.keep_open`): a fresh DuckDB instance per refresh
        started each with a cold buffer pool, twice as slow at millions of responses. It is let go the
        moment another process knocks, unless a query or pass has it, which then lets go when it ends."""
        if self._kept is not None:
            self._kept.let_go_if_wanted(blocking=False)

    # -- navigation --------------------------------------------------------------

    def action_show(self, mode: str) -> None:
        """Switch pane; pressing the key of the pane already shown goes back to its list."""
        if mode == self.current_mode:
            while len(self.screen_stack) > 1 and not self.screen.is_modal:
                self.pop_screen()
            return
        self.switch_mode(mode)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    @on(SessionRequested)
    def open_session(self, message: SessionRequested) -> None:
        self.push_screen(SessionScreen(message.session_id, turn=message.turn, at=message.at))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        for mode, (title, help_text) in PANES.items():
            yield SystemCommand(f"Show {title}", help_text, lambda mode=mode: self.action_show(mode))
        yield SystemCommand(
            "Toggle dark/light", "Switch between the dark and the light theme", self.action_toggle_theme
        )
        yield SystemCommand("Scan sources now", "Read whatever is new on disk", self.request_ingest)
        yield from super().get_system_commands(screen)

    # -- ingest ------------------------------------------------------------------

    def request_ingest(self) -> None:
        """Run a pass now, or once more after the running one (coalescing bursts of events)."""
        if self._ingesting:
            self._ingest_again = True
            return
        if self._scan_timer is not None:
            self._scan_timer.stop()
        self._ingesting = True
        self._ingest_again = False
        self._ingest_pass()

    @work(thread=True, exclusive=True, exit_on_error=False, group="ingest", description="ingest pass")
    def _ingest_pass(self) -> None:
        worker = get_current_worker()
        last = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last
            if total >= BACKFILL_BYTES and time.monotonic() - last >= PROGRESS_INTERVAL:
                last = time.monotonic()
                self.post_message(IngestProgressed(done, total))

        def committed(summary: IngestSummary) -> None:
            self.post_message(DataChanged(frozenset(summary.changed_sessions)))

        def ready() -> None:
            if not self.store_ready:
                self.post_message(StoreReady())

        summary = self.ingestor.run(
            progress, committed, stop=lambda: worker.is_cancelled, ready=ready, fork=False, lock_wait=LOCK_WAIT
        )
        self.post_message(IngestFinished(summary))

    @on(StoreReady)
    def _store_ready(self) -> None:
        self.store_ready = True
        for screen in self.screen_stack:
            if isinstance(screen, DataScreen):
                screen.request_refresh()

    @on(IngestProgressed)
    def _show_progress(self, message: IngestProgressed) -> None:
        self.set_status(IngestStatus("backfill", message.done, message.total, updated=self.status.updated))

    @on(DataChanged)
    def _forward_change(self, message: DataChanged) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, DataScreen):
                screen.data_changed(message.sessions)

    @on(IngestFinished)
    def _pass_finished(self, message: IngestFinished) -> None:
        self.set_status(IngestStatus("live" if self.watching else "idle", updated=self.now()))

    def _after_pass(self) -> None:
        """The pass's worker is over: run the owed pass, or arm the safety-net scan."""
        self._ingesting = False
        if self._ingest_again:
            self.request_ingest()
        elif self.watching or self.status.phase == "busy":
            self._scan_timer = self.set_timer(SCAN_SECONDS, self.request_ingest)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one error path for app workers: a busy store is a status, anything else a notice."""
        worker = event.worker
        error = worker.error if event.state == WorkerState.ERROR else None
        if worker.group == "ingest" and worker.is_finished:
            if error is not None:
                busy = isinstance(error, StoreError) and "busy" in str(error)
                message = "Database busy (another tiermon is writing); retrying" if busy else _one_line(error)
                self.set_status(IngestStatus("busy" if busy else "error", message=message, updated=self.status.updated))
            self._after_pass()
        elif error is not None and worker.group in ("watcher", "demo"):
            self.notify(_one_line(error), title=f"{worker.group} stopped", severity="warning", markup=False)

    def report_store_problem(self, error: str) -> None:
        """A pane could not open the store; say so in the status bar, keep the panes as they are."""
        busy = "busy" in error
        message = "Database busy (another tiermon is writing); retrying" if busy else error
        self.set_status(IngestStatus("busy" if busy else "error", message=message, updated=self.status.updated))

    def set_status(self, status: IngestStatus) -> None:
        self.status = status
        self.status_signal.publish(status)

    # -- watching ----------------------------------------------------------------

    @work(exclusive=True, exit_on_error=False, group="watcher", description="watch sources")
    async def _watch_sources(self) -> None:
        from watchfiles import awatch

        paths = self.ingestor.watch_paths()
        if not paths:
            return  # nothing to watch yet: the periodic scan notices new folders
        async for _changes in awatch(
            *paths,
            watch_filter=_wanted,
            debounce=WATCH_DEBOUNCE_MS,
            step=50,
            stop_event=self._stop_watching,
            ignore_permission_denied=True,
        ):
            self.request_ingest()

    @work(thread=True, exclusive=True, exit_on_error=False, group="demo", description="demo activity")
    def _play_demo(self, workspace: DemoWorkspace) -> None:
        worker = get_current_worker()
        play(workspace.samples, now=workspace.now, stop=lambda: worker.is_cancelled)


def _wanted(_change: Any, path: str) -> bool:
    return path.endswith((".jsonl", ".json", ".ndjson", ".log"))


def _one_line(error: BaseException | None) -> str:
    text = str(error).strip().splitlines() if error else []
    return text[0] if text else type(error).__name__


def make_app(
    settings: Settings,
    *,
    demo: bool = False,
    clock: Clock | None = None,
    watch: bool = True,
    workspace: DemoWorkspace | None = None,
    first_run: bool = False,
) -> TiermonApp:
    """The one way the CLI and the tests build the dashboard.

    Args:
        settings: Resolved settings; for the demo, the workspace's settings.
        demo: Play the demo's scripted activity into the workspace's samples while running.
        clock: Returns "now" (aware or naive UTC); tests pass a frozen one.
        watch: Watch the sources and rescan periodically; False reads once at start.
        workspace: The generated samples the demo appends to (see demo.demo_workspace).
        first_run: No data was found anywhere: open with the welcome screen that offers the demo.
    """
    if demo and workspace is None:
        raise ValueError("the demo needs its workspace (tiermon.tui.demo.demo_workspace)")
    return TiermonApp(settings, clock=clock, watch=watch, workspace=workspace if demo else None, first_run=first_run)
