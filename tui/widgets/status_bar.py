"""Provides StatusBar: what live ingest is doing, on every screen, plus the one cost caveat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import Static

from tiermon.tui.widgets.cells import clock_time

if TYPE_CHECKING:
    from textual.app import ComposeResult

CAVEAT = "All costs are estimates at list price"
"""SPEC §3: said once, plainly, where every screen shows it."""


@dataclass(frozen=True)
class IngestStatus:
    """The app's ingest state as the status bar shows it."""

    phase: str = "starting"
    """starting | backfill | live | idle | busy | error"""
    done: int = 0
    total: int = 0
    message: str = ""
    updated: datetime | None = None
    """Naive UTC time of the last pass that finished."""

    def describe(self, width: int = 40) -> Text:
        """One line for `width` cells."""
        if self.phase == "backfill" and self.total:
            share = self.done / self.total
            cells = max(min(width - 40, 20), 3)
            filled = round(share * cells)
            text = Text("Reading transcripts ", style="bold")
            text.append("█" * filled, style="cyan")
            text.append("░" * (cells - filled), style="dim")
            text.append(f" {share:4.0%} {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB")
            return text
        if self.phase == "starting":
            return Text("Reading transcripts…", style="bold")
        if self.phase in ("busy", "error"):
            return Text(self.message, style="bold red" if self.phase == "error" else "yellow")
        label = "● live" if self.phase == "live" else "○ not watching"
        text = Text(label, style="green" if self.phase == "live" else "dim")
        if self.updated is not None:
            text.append(f"  updated {clock_time(self.updated)}", style="dim")
        return text


class StatusBar(Horizontal):
    """One line above the footer; follows the app's `status_signal`."""

    def compose(self) -> ComposeResult:
        if getattr(self.app, "workspace", None) is not None:
            yield Static(Text(" DEMO ", style="bold black on yellow"), id="status-demo")
        yield Static(id="status-text")
        yield Static(Text(CAVEAT, style="dim italic"), id="status-caveat")

    def on_mount(self) -> None:
        signal = getattr(self.app, "status_signal", None)
        if signal is not None:
            signal.subscribe(self, self.show_status)
            self.show_status(getattr(self.app, "status", IngestStatus()))

    def show_status(self, status: IngestStatus) -> None:
        text = self.query_one("#status-text", Static)
        text.update(status.describe(text.size.width or 40))
