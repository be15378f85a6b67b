"""Provides the dashboard's charts: per-tier stacked spend bars and a session's context growth.

Each chart keeps its data and redraws from it in `replot()`, so a resize or a
theme change never needs a query; plotting goes through the widget's own
`plt`, never the global plotext module.
"""

from __future__ import annotations

from datetime import datetime

from textual_plotext import PlotextPlot

TIERS = ("haiku", "small", "sonnet", "mid", "opus", "large", "other")
"""Stack order: cheaper rungs at the bottom; Anthropic's tiers beside other vendors' rungs of the same step."""
TIER_COLORS = {
    "haiku": "green", "small": "green+", "sonnet": "blue", "mid": "blue+",
    "opus": "magenta", "large": "magenta+", "other": "yellow",
}  # fmt: skip


class TierBars(PlotextPlot):
    """Spend per period, one stacked bar per period, one colour per tier."""

    def __init__(self, title: str, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._title = title
        self._labels: list[str] = []
        self._series: dict[str, list[float]] = {}

    def set_data(self, labels: list[str], series: dict[str, list[float]], title: str | None = None) -> None:
        self._labels = labels
        self._series = {t: v for t, v in series.items() if any(v)}
        if title is not None:
            self._title = title
        self.replot()

    def on_mount(self) -> None:
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        plt.title(self._title)
        if self._labels and self._series:
            tiers = [t for t in TIERS if t in self._series]
            plt.stacked_bar(
                self._labels,
                [self._series[t] for t in tiers],
                color=[TIER_COLORS[t] for t in tiers],  # type: ignore[arg-type]  # one per series; the stub says one
                width=0.6,
            )
            # plotext starts the axis at the smallest segment; a day without Haiku then floats off it
            top = max((sum(day) for day in zip(*(self._series[t] for t in tiers), strict=True)), default=0.0)
            plt.ylim(0, max(top * 1.05, 0.01))
        elif self._labels:
            plt.bar(self._labels, [0.0] * len(self._labels))
            plt.ylim(0, 1)
        self.refresh()


class ContextChart(PlotextPlot):
    """Context tokens per main-chain response over time, the window as a ceiling, compactions marked."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._points: list[tuple[datetime, int]] = []
        self._window: int | None = None
        self._marks: list[datetime] = []

    def set_data(self, points: list[tuple[datetime, int]], window: int | None, compactions: list[datetime]) -> None:
        self._points = points
        self._window = window
        self._marks = compactions
        self.replot()

    def on_mount(self) -> None:
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_figure()
        if not self._points:
            plt.title("Context: no main-chain responses")
            self.refresh()
            return
        start = self._points[0][0]
        minutes = [(t - start).total_seconds() / 60 for t, _ in self._points]
        values = [v / 1000 for _, v in self._points]
        title = "Context (k tokens) over minutes"
        if self._window:
            title += f" · compacts at {self._window // 1000}k"
        plt.title(title)
        plt.plot(minutes, values, color="cyan", marker="braille")
        top = max(values)
        if self._window and self._window / 1000 <= top * 2.5:
            top = max(top, self._window / 1000)  # keep the window line inside the frame
            plt.horizontal_line(self._window / 1000, color="red")
        for mark in self._marks:
            plt.vertical_line((mark - start).total_seconds() / 60, color="yellow")
        plt.ylim(0, max(top * 1.1, 1))
        self.refresh()
