"""Provides AdviceScreen: turns where a cheaper or a stronger model would have paid off."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text

from tiermon.ingest.signals.views import ADVICE_KINDS, ADVICE_NOTE
from tiermon.ingest.store import Store
from tiermon.tui.screens.signal_list import (
    PROJECT_WIDTH,
    ROW_LIMIT,
    WHEN_WIDTH,
    Column,
    SignalListScreen,
    project_name,
    turn_cell,
    when,
)
from tiermon.tui.widgets.cells import TIER_STYLES, money


def _tiers(row: dict[str, Any]) -> Text:
    """`haiku↑sonnet` to escalate, `opus↓haiku` to de-escalate: the advice and its tiers in one cell."""
    up = row.get("kind") == "escalate"
    text = Text(row.get("from_tier") or "?", style=TIER_STYLES.get(row.get("from_tier") or "", ""))
    text.append("↑" if up else "↓", style="bold yellow" if up else "bold green")
    text.append(row.get("to_tier") or "?", style=TIER_STYLES.get(row.get("to_tier") or "", ""))
    return text


def _saving(row: dict[str, Any]) -> Text:
    value = row.get("saving_usd")
    cell = money(value)
    if value is not None and value < 0:
        cell.stylize("red")
    return cell


class AdviceScreen(SignalListScreen):
    """Escalate / de-escalate places: what the turn cost and what the other tier would have."""

    TITLE_TEXT = "Advice"
    KINDS = ADVICE_KINDS
    SEARCH_FIELDS = ("project", "kind", "reason", "session_id", "from_tier", "to_tier")
    HEADLINE = "reason"
    NOTE = ADVICE_NOTE.split(". All figures")[0] + "."
    COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("start", "When", lambda r: r.get("start"), when, WHEN_WIDTH),
        Column("tiers", "Advice", lambda r: (r.get("kind"), r.get("from_tier"), r.get("to_tier")), _tiers, 13),
        Column("turn", "Turn", lambda r: r.get("turn"), turn_cell, 4),
        Column("cost", "Cost", lambda r: r.get("cost_usd"), lambda r: money(r.get("cost_usd")), 7),
        Column("alt", "What-if", lambda r: r.get("counterfactual_cost_usd"),
               lambda r: money(r.get("counterfactual_cost_usd")), 7),
        Column("saving", "Saving", lambda r: r.get("saving_usd"), _saving, 7),
        Column("project", "Project", lambda r: r.get("project"), project_name, PROJECT_WIDTH),
        Column("reason", "Reason", lambda r: r.get("reason")),
    )

    def fetch(self, store: Store) -> list[dict[str, Any]]:
        from tiermon.ingest.kinds import newest_advice

        return newest_advice(store, self.tiermon.ingestor.prices, ROW_LIMIT)
