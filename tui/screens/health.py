"""Provides HealthScreen: what tiermon reads and what it could not account for (SPEC §4.9)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tiermon.ingest import formatting as fmt
from tiermon.ingest.queries import files_by_source
from tiermon.ingest.signals.views import health
from tiermon.ingest.sources import SOURCES
from tiermon.ingest.store import Store
from tiermon.tui.screens.base import DataScreen
from tiermon.tui.widgets.cells import local, plain

if TYPE_CHECKING:
    from textual.app import ComposeResult


class HealthScreen(DataScreen):
    """Sources, files tailed, quarantined lines, unknown entry types, unpriced share."""

    TITLE_TEXT = "Health"
    REFRESH_SECONDS: ClassVar[float] = 15.0
    MIN_GAP_SECONDS: ClassVar[float] = 5.0

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="health-body"):
            yield Static(id="health-sources", classes="panel")
            yield Static(id="health-files", classes="panel")
            yield Static(id="health-problems", classes="panel")

    def fetch(self, store: Store) -> dict[str, Any]:
        ingestor = self.tiermon.ingestor
        try:
            roots = {SOURCES[kind].label: [str(r) for r in paths] for kind, paths in ingestor.roots().items()}
        except ValueError as exc:  # a --source folder that went away
            roots = {"Sources": [f"({exc})"]}
        return {
            "report": health(store),
            "files": files_by_source(store),
            "roots": roots,
            "db": str(self.tiermon.settings.db_path),
        }

    def show(self, data: dict[str, Any]) -> None:
        self.query_one("#health-sources", Static).update(_sources(data))
        self.query_one("#health-files", Static).update(_files(data))
        self.query_one("#health-problems", Static).update(_problems(data["report"]))


def _sources(data: dict[str, Any]) -> Text:
    text = Text("Sources\n", style="bold")
    for label, roots in data["roots"].items():
        text.append(f"{label:<12} ")
        text.append_text(plain(", ".join(roots) or "none found"))
        text.append("\n")
    text.append("Database     ")
    text.append_text(plain(data["db"]))
    return text


def _files(data: dict[str, Any]) -> Text:
    report = data["report"]
    text = Text("Files tailed\n", style="bold")
    for row in data["files"]:
        last = local(row["last_ingest"]).strftime("%d %b %H:%M") if row["last_ingest"] else "–"
        text.append(f"{row['source_kind']:<10} {row['files']:>6} files {row['bytes'] / 1e6:7.1f} MB "
                    f"{row['lines']:>9,} lines  read {last}\n")
    if not data["files"]:
        text.append("nothing read yet\n", style="dim")
    text.append(f"{report['responses']:,} responses stored")
    if report["versions"]:
        text.append(" · agent versions ")
        text.append_text(plain(", ".join(report["versions"]), 80))
    return text


def _problems(report: dict[str, Any]) -> Text:
    text = Text("What tiermon could not account for\n", style="bold")
    quarantined = report["quarantined"]
    text.append(f"Quarantined lines   {quarantined}\n", style="yellow" if quarantined else "")
    for q in report["quarantine_latest"]:
        text.append("  ")
        text.append_text(plain(f"{q['file_path']}:{q['line_offset']}", 70, style="dim", tail=True))
        text.append("  ")
        text.append_text(plain(q["reason"], 60, style="dim"))
        text.append("\n")
    unknown = report["unknown_entry_types"]
    text.append("Unknown entry types ", style="yellow" if unknown else "")
    text.append_text(plain(", ".join(f"{u['entry_type']}@{u['version'] or '?'} ×{u['n']}" for u in unknown) or "none"))
    share = report["unpriced_token_share"]
    text.append(f"\nUnpriced tokens     {share:.1%}", style="yellow" if share else "")
    for model in report["unpriced_models"]:
        text.append("\n  ")
        text.append_text(plain(model["model"], 40, style="yellow"))
        text.append(f"  {fmt.plural(model['requests'], 'request')}, {fmt.tokens(model['tokens'])} tokens", style="dim")
    if report["unpriced_models"]:
        text.append("\n  Add a price for them in prices.toml (see `tiermon prices`).", style="dim")
    unmapped = report["unmapped_models"]
    text.append("\nUnmapped models     ", style="yellow" if unmapped else "")
    text.append_text(plain(", ".join(f"{u['model']} ({u['agent']})" for u in unmapped) or "none", 80))
    if unmapped:
        text.append("\n  Give them a vendor and tier in models.toml.", style="dim")
    if report.get("api_errors"):
        text.append(f"\nAPI errors          {report['api_errors']}", style="yellow")
    return text

