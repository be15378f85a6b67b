"""Provides ModelsScreen: the model scorecard and the policy replay in the dashboard (SPEC §4.10, §4.11)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tiermon.ingest import formatting as fmt
from tiermon.ingest.models import model_base
from tiermon.ingest.replay import NOTE as REPLAY_NOTE, POLICIES, replay
from tiermon.ingest.reports import ReportFilter
from tiermon.ingest.scorecard import GROUP_BY, MIN_TURNS, scorecard, turn_frame
from tiermon.ingest.sources import SOURCES
from tiermon.ingest.store import Store
from tiermon.ingest.zone import local_timezone
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.widgets.cells import TIER_STYLES, local_date

if TYPE_CHECKING:
    from textual.app import ComposeResult

SHOWN_RATES = (
    ("failed_per_100_calls", "Failed"),
    ("struggle_per_100_turns", "Struggle"),
    ("thrash_per_100_turns", "Thrash"),
    ("needless_asks_per_100_turns", "Asks"),
    ("interrupts_per_100_turns", "Interrupt"),
    ("compactions_per_100_turns", "Compact"),
    ("recovered_per_100_escalations", "Stopped↑"),
)
"""The rates that fit beside each other at 120 columns; `tiermon scorecard --json` has every one."""
RECENT_DAYS = 30
"""What the pane measures unless asked for all time: the models in use now, on recent work. At 5 M
responses over two years, all time takes ~2 s to read and replay; the last 30 days ~0.1 s."""
STYLE_OF_RUNG = {"small": TIER_STYLES.get("haiku", ""), "mid": TIER_STYLES.get("sonnet", ""),
                 "large": TIER_STYLES.get("opus", "")}  # fmt: skip


class ModelsScreen(DataScreen):
    """Each model's turns, cost per turn and struggle rates with 95 % intervals; below, the policy replay."""

    TITLE_TEXT = "Models"
    REFRESH_SECONDS: ClassVar[float] = 60.0
    MIN_GAP_SECONDS: ClassVar[float] = 10.0
    BINDINGS: ClassVar[list[BindingType]] = [Binding("A", "all_time", "All time")]

    def __init__(self) -> None:
        super().__init__()
        self.zone_name = local_timezone()
        self.all_time = False
        """Every turn stored instead of the last RECENT_DAYS days."""

    def screen_title(self) -> str:
        return f"{self.TITLE_TEXT} · {'all time' if self.all_time else f'last {RECENT_DAYS} days'}"

    def action_all_time(self) -> None:
        self.all_time = not self.all_time
        self.sub_title = self.screen_title()
        self.request_refresh()

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="models-body"):
            table: DataTable[Any] = DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static(id="models-note", classes="panel")
            yield Static(id="models-replay", classes="panel")

    def on_mount(self) -> None:
        self.sub_title = self.screen_title()
        table = self.query_one("#models-table", DataTable)
        table.add_columns("Model", "Rung", "Turns", "$/turn", *(label for _, label in SHOWN_RATES), "Cache")

    def fetch(self, store: Store) -> dict[str, Any]:
        agents = tuple(SOURCES[kind].agent for kind in self.tiermon.settings.agents)
        since = local_date(self.tiermon.now(), self.zone_name) - timedelta(days=RECENT_DAYS - 1)
        period = ReportFilter(agents=agents, tz=self.zone_name, since=None if self.all_time else since)
        turns = turn_frame(store, period, project=False)
        prices = self.tiermon.ingestor.prices
        replays = [replay(turns, prices, p) for p in POLICIES] if turns.height else []
        return {"models": scorecard(turns), "replay": replays}

    def show(self, data: dict[str, Any]) -> None:
        table = self.query_one("#models-table", DataTable)
        table.clear()
        agents = {r["agent"] for r in data["models"]}
        for r in data["models"]:
            dim = "dim" if r["too_few_turns"] else ""
            name = Text(model_base(r["model"] or "?").removeprefix("claude-") + (" *" if r["too_few_turns"] else ""),
                        style=dim or STYLE_OF_RUNG.get(r["rung"] or "", ""))  # fmt: skip
            name.append(f"\n{r['agent']}" if len(agents) > 1 else "", style="dim")
            table.add_row(
                name, Text(r["rung"] or "", style=dim),
                Text(str(r["turns"]), justify="right", style=dim),
                Text(fmt.money(r["cost_per_turn_median"]) + "\n", justify="right", style=dim)
                .append(f"p90 {fmt.money(r['cost_per_turn_p90'])}", style="dim"),
                *(rate_text(r["rates"][key]) for key, _ in SHOWN_RATES),
                Text("–" if r["cache_hit_ratio"] is None else f"{r['cache_hit_ratio']:.0%}", justify="right"),
                key="\x1f".join(str(r[k]) for k in GROUP_BY), height=2,  # a scorecard row's own key
            )  # fmt: skip
        note = Text(
            "Rates per 100 turns (Failed: per 100 tool calls) over their 95 % Wilson interval. "
            f"* fewer than {MIN_TURNS} turns: too few to compare. Struggle: a thrash, needless ask, re-read drift, "
            "interrupt or 3+ failed attempts. Stopped↑: struggling turns that stopped once the session moved up "
            "a rung.",
            style="dim",
        )
        if not data["models"]:
            note = Text("No turns yet: the scorecard fills in as sessions are read.", style="dim")
            if not self.all_time:
                note = Text(f"No turns in the last {RECENT_DAYS} days: A shows all time.", style="dim")
        self.query_one("#models-note", Static).update(note)
        self.query_one("#models-replay", Static).update(replay_text(data["replay"]))


def rate_text(rate: dict[str, Any]) -> Text:
    """The rate per 100 over its 95 % interval (`7` / `4–13`); `–` where there is nothing to count."""
    if rate["per_100"] is None:
        return Text("–", justify="right", style="dim")
    text = Text(f"{rate['per_100']:.0f}\n", justify="right")
    text.append(f"{rate['low']:.0f}–{rate['high']:.0f}", style="dim")
    return text


def replay_text(results: list[dict[str, Any]]) -> Text:
    """One line per policy: what it would have cost against what was spent, and turns moved."""
    text = Text("Policy replay", style="bold")
    text.append(" — a re-pricing of the same turns (`tiermon replay` for the struggle predictions)\n", style="dim")
    if not results:
        text.append("No turns to re-price.", style="dim")
        return text
    text.append(f"Spent {fmt.money(results[0]['actual_usd'])}\n")
    width = max(len(r["policy"]) for r in results)
    for r in results:
        text.append(f"  {r['policy']:<{width}}  ")
        text.append(f"{fmt.money(r['replayed_usd']):>10}", style="bold")
        diff = r["difference_usd"]
        text.append(f"  {fmt.money(diff, signed=True):>10}", style="green" if diff < 0 else "red" if diff > 0 else "")
        text.append(f"  {r['turns_moved_down']} down, {r['turns_moved_up']} up of {r['turns']} turns\n", style="dim")
    text.append(REPLAY_NOTE, style="dim")
    return text
