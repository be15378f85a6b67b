"""Provides TeamScreen: the lead's view of the whole team's spend, read from the team database (SPEC §9).

Per person and per project, per tier and per week, with the change from the
week before; the team's most frequent alerts and its costliest advice; who
pushed last and when. The data comes from the shared PostgreSQL in a thread
worker; the screen never touches the local store, so it works for a lead
whose own machine holds no data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from tiermon.ingest import formatting as fmt
from tiermon.ingest.team import TIERS, TeamError, TeamOverview, fetch_overview, mask_url
from tiermon.ingest.zone import local_timezone
from tiermon.tui.widgets.cells import money, plain

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.timer import Timer

    from tiermon.ingest.config import Settings

NOT_CONFIGURED = "No team database configured: set TIERMON_TEAM_URL or `url` under [team] in config.toml."
ESTIMATE_NOTE = "Figures are estimates at list price."

_COLUMNS: dict[str, tuple[str, ...]] = {
    "people": ("Person", "This week", "Last week", "Change", *TIERS),
    "weekly": ("Week", "Person", "Project", *TIERS, "Total", "Change"),
    "alerts": ("Person", "Alert", "Count", "Warn", "Sessions", "Last"),
    "advice": ("Person", "Project", "Advice", "Turn", "Cost", "Alt. cost", "Saving", "When"),
    "members": ("Person", "Machine", "Last push", "Responses", "Signals", "tiermon"),
}


class TeamScreen(Screen[None]):
    """Spend across the team: people, weeks, alerts, advice, members."""

    DEFAULT_CSS = """
    TeamScreen #team-status { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    TeamScreen #team-status.-error { color: $error; }
    TeamScreen TabbedContent { height: 1fr; }
    TeamScreen TabPane { height: 1fr; padding: 0; }
    TeamScreen DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("r", "refresh", "Refresh"),
        Binding("escape", "back", "Back"),
    ]
    REFRESH_SECONDS: ClassVar[float] = 300.0
    """The team database changes when someone pushes; a few minutes is fresh enough."""
    WEEKS: ClassVar[int] = 8

    @dataclass
    class OverviewFetched(Message):
        """The worker read the team's overview."""

        overview: TeamOverview

    @dataclass
    class FetchFailed(Message):
        """The worker could not read it; `error` is one line with no password."""

        error: str

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        tz: str | None = None,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
    ) -> None:
        super().__init__(name=name, id=id)
        self.settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._tz = tz or local_timezone()
        self._timer: Timer | None = None
        self._stale = False
        self.overview: TeamOverview | None = None
        """The last overview shown, for tests and for the app."""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static(id="team-status")
        with TabbedContent(initial="team-people"):
            for key, title in (("people", "People"), ("weekly", "Weekly"), ("alerts", "Alerts"),
                               ("advice", "Advice"), ("members", "Members")):  # fmt: skip
                with TabPane(title, id=f"team-{key}"):
                    yield DataTable(id=f"{key}-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Team"
        for key, labels in _COLUMNS.items():
            self.query_one(f"#{key}-table", DataTable).add_columns(*labels)
        if not self.settings.team_url:
            self._status(NOT_CONFIGURED, error=True)
            return
        self._status(f"Reading the team's spend from {mask_url(self.settings.team_url)}…")
        self._fetch()

    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self._fetch()

    # -- actions -----------------------------------------------------------------

    def action_refresh(self) -> None:
        if self.settings.team_url:
            self._fetch()

    def action_back(self) -> None:
        """Back to where the user came from: the screen below, or Live when Team is a pane of its own."""
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:
            self.app.switch_mode("live")

    # -- the refresh cycle ---------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="team-query", description="team overview")
    def _fetch(self) -> None:
        try:
            overview = fetch_overview(self.settings.team_url, now=self._clock(), tz=self._tz, weeks=self.WEEKS)
        except TeamError as exc:
            self.post_message(self.FetchFailed(str(exc)))
        else:
            self.post_message(self.OverviewFetched(overview))

    @on(OverviewFetched)
    def _show(self, message: OverviewFetched) -> None:
        message.stop()
        overview = message.overview
        self.overview = overview
        with self.app.batch_update():
            self._fill("people", [_person_row(p) for p in overview.people])
            self._fill("weekly", [_weekly_row(w) for w in overview.weekly])
            self._fill("alerts", [_alert_row(a) for a in overview.alerts])
            self._fill("advice", [_advice_row(a) for a in overview.advice])
            self._fill("members", [_member_row(m) for m in overview.members])
        total = sum(p["this_week"] for p in overview.people)
        people = len(overview.people)
        self._status(
            f"Week of {overview.this_week:%Y-%m-%d}: {fmt.money(total)} so far across {people} "
            f"{'person' if people == 1 else 'people'}. {ESTIMATE_NOTE} Updated {self._clock().astimezone():%H:%M}."
        )
        self._rearm()

    @on(FetchFailed)
    def _failed(self, message: FetchFailed) -> None:
        message.stop()
        self._status(message.error, error=True)
        self._rearm()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "team-query" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self._status(f"Team query failed: {type(error).__name__}", error=True)
            self._rearm()

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.REFRESH_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.is_current:
            self._fetch()
        else:
            self._stale = True

    # -- widgets -------------------------------------------------------------------

    def _status(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#team-status", Static)
        status.update(plain(text))
        status.set_class(error, "-error")

    def _fill(self, key: str, rows: list[tuple[Any, ...]]) -> None:
        table = self.query_one(f"#{key}-table", DataTable)
        table.clear()
        table.add_rows(rows)


def _change(delta: float | None, pct: float | None) -> Text:
    """Up in red, down in green; `new` when there was nothing the week before."""
    if delta is None:
        return Text("–", justify="right")
    if pct is None:
        return Text("new" if delta > 0 else "–", justify="right", style="dim")
    style = "red" if delta > 0 else "green" if delta < 0 else ""
    return Text(f"{fmt.money(delta, signed=True)} ({pct:+.0%})", justify="right", style=style)


def _tiers(row: dict[str, Any]) -> list[Text]:
    return [money(row.get(t)) for t in TIERS]


def _person_row(p: dict[str, Any]) -> tuple[Any, ...]:
    return (plain(p["user"], 20), money(p["this_week"]), money(p["last_week"]),
            _change(p["change_usd"], p["change_pct"]), *_tiers(p))  # fmt: skip


def _weekly_row(w: dict[str, Any]) -> tuple[Any, ...]:
    return (f"{w['week']:%Y-%m-%d}", plain(w["user"], 20), plain(w["project"], 24), *_tiers(w),
            money(w["cost_usd"], unpriced=bool(w["unpriced_requests"])),
            _change(w["change_usd"], w["change_pct"]))  # fmt: skip


def _alert_row(a: dict[str, Any]) -> tuple[Any, ...]:
    return (plain(a["user"], 20), plain(a["kind"], 16), Text(str(a["alerts"]), justify="right"),
            Text(str(a["warnings"]), justify="right", style="yellow" if a["warnings"] else ""),
            Text(str(a["sessions"]), justify="right"), _when(a["last"]))  # fmt: skip


def _advice_row(a: dict[str, Any]) -> tuple[Any, ...]:
    arrow = {"escalate": "↑ ", "de-escalate": "↓ "}.get(a["kind"], f"{a['kind']} ")
    what = f"{arrow}{a['from_tier'] or '?'}→{a['to_tier'] or '?'}"
    saving = a["saving_usd"] or 0.0
    return (plain(a["user"], 16), plain(a["project"], 16), plain(what, 18),
            Text(str(a["turn"]) if a["turn"] is not None else "–", justify="right"), money(a["cost_usd"]),
            money(a["counterfactual_cost_usd"]),
            Text(fmt.money(saving), justify="right", style="green" if saving > 0 else ""),
            _when(a["start"], "%m-%d %H:%M"))  # fmt: skip


def _member_row(m: dict[str, Any]) -> tuple[Any, ...]:
    return (plain(m["user"], 20), plain(m["machine"], 24), _when(m["last_push"]),
            Text(str(m["pushed_responses"] or 0), justify="right"),
            Text(str(m["pushed_signals"] or 0), justify="right"), plain(m["tiermon_version"], 12))  # fmt: skip


def _when(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> Text:
    """A stored moment (naive UTC, or aware) in this machine's time."""
    if moment is None:
        return Text("–")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Text(moment.astimezone().strftime(fmt))
