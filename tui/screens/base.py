"""Provides DataScreen: a screen that re-queries the store in a thread worker.

The pattern every pane follows: `fetch()` runs in a thread on the store the
dashboard keeps open (let go whenever another tiermon process knocks); the
result comes back as a `Fetched` message and `show()` applies it on the UI
thread, where a failure is told in a notification rather than closing the
dashboard. A refresh asked for while
one runs is remembered and run once after it (coalescing), and the periodic
refresh is a one-shot timer re-armed when a fetch completes, so slow queries
never pile up. Screens that are not visible only note that they are stale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events, on, work
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header
from textual.worker import Worker, WorkerState

from tiermon.ingest.runner import LIMITS
from tiermon.ingest.store import Store, StoreError
from tiermon.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from tiermon.tui.app import TiermonApp


class DataScreen(Screen[None]):
    """Base of every pane; subclasses implement `fetch`, `show` and `compose_body`."""

    REFRESH_SECONDS: ClassVar[float] = 10.0
    """Re-query this often even without new data (relative times, cache countdowns)."""
    MIN_GAP_SECONDS: ClassVar[float] = 1.0
    """New data re-queries at most this often: a burst of appends becomes one fetch."""
    TITLE_TEXT: ClassVar[str] = ""

    @dataclass
    class Fetched(Message):
        """A fetch finished; `data` is whatever `fetch` returned."""

        data: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._busy = False
        self._pending = False
        self._stale = True
        self._timer: Timer | None = None
        self._last_fetch = 0.0
        self._worker: Worker[None] | None = None
        self._laid_out: tuple[Any, int] | None = None
        """The data last shown and the width it was laid out for: a resize lays it out again."""

    @property
    def tiermon(self) -> TiermonApp:
        from tiermon.tui.app import TiermonApp

        assert isinstance(self.app, TiermonApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield from self.compose_body()
        yield StatusBar()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        # Textual calls on_mount of every class in the MRO: subclasses must not call super().
        self.sub_title = self.screen_title()

    def screen_title(self) -> str:
        return self.TITLE_TEXT

    def on_screen_resume(self) -> None:
        if self._stale:
            self.request_refresh()

    @property
    def is_loading(self) -> bool:
        """A fetch is running or owed: what tests wait on before looking at the screen."""
        return self._busy or self._pending or (self._stale and self.is_current)

    # -- refresh cycle -----------------------------------------------------------

    def data_changed(self, sessions: frozenset[str]) -> None:
        """New rows landed; re-query if concerned, now or once the minimum gap has passed."""
        if not self.concerns(sessions):
            return
        wait = self._last_fetch + self.MIN_GAP_SECONDS - time.monotonic()
        if wait > 0 and not self._busy:
            self._stale = True
            self._arm(wait)
        else:
            self.request_refresh()

    def concerns(self, sessions: frozenset[str]) -> bool:
        """Whether rows of these sessions change what this screen shows."""
        return True

    def request_refresh(self) -> None:
        if not self.is_current or not self.tiermon.store_ready:
            self._stale = True
            return
        if self._busy:
            self._pending = True
            return
        self._busy = True
        self._stale = False
        self._pending = False
        self._last_fetch = time.monotonic()
        self._worker = self._fetch_in_thread()

    @work(thread=True, exclusive=True, exit_on_error=False, group="query", description="pane query")
    def _fetch_in_thread(self) -> None:
        with Store.open(
            self.tiermon.settings.db_path, wait=self.tiermon.query_wait, memory_limit=LIMITS.query_memory_limit
        ) as store:
            data = self.fetch(store)
        self.post_message(self.Fetched(data))

    @on(Fetched)
    def _apply(self, message: Fetched) -> None:
        message.stop()
        self._laid_out = (message.data, self.size.width)
        self._show(message.data)

    def _show(self, data: Any) -> None:
        """`show`, with a failure told in a notification: one pane's bug must not close the whole dashboard
        (a Models table with a repeated row key once did, on data the demo never has)."""
        try:
            self.show(data)
        except Exception as exc:  # noqa: BLE001 - any failure of one pane's layout; the others keep working
            self.notify(f"{type(exc).__name__}: {exc}", title=f"{self.screen_title()} could not show its data",
                        severity="error", markup=False)  # fmt: skip

    def on_resize(self, event: events.Resize) -> None:
        """Columns are cut to the width: lay the last data out again when it changes, without a query."""
        if self._laid_out is not None and self._laid_out[1] != event.size.width:
            self._laid_out = (self._laid_out[0], event.size.width)
            self.call_after_refresh(self._show, self._laid_out[0])  # once the screen has its new size

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The fetch is over when its worker is: only then may the next one start."""
        if event.worker is not self._worker or not event.worker.is_finished:
            return
        self._worker = None
        error = event.worker.error
        if event.state == WorkerState.ERROR and isinstance(error, StoreError):
            self.tiermon.report_store_problem(str(error))
        elif event.state == WorkerState.ERROR and error is not None:
            self.notify(f"{type(error).__name__}: {error}", title="Query failed", severity="error", markup=False)
        self._done()

    def _done(self) -> None:
        if not self.is_attached:
            return
        self._busy = False
        if self._pending:
            self.request_refresh()
        else:
            self._arm(self.REFRESH_SECONDS)

    def _arm(self, delay: float) -> None:
        """One pending refresh timer per screen: a new one replaces the old."""
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(delay, self.request_refresh)

    # -- subclass hooks ----------------------------------------------------------

    def fetch(self, store: Store) -> Any:
        """Runs in a thread: query the store, return plain data. Never touch widgets here."""
        return None

    def show(self, data: Any) -> None:
        """Runs on the UI thread with what `fetch` returned."""
