"""Provides WelcomeScreen: what a first run with no agent data anywhere says, and the way to the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

if TYPE_CHECKING:
    from textual.app import ComposeResult

LOOKED_IN = "~/.claude/projects, ~/.codex/sessions and the other agents' homes"


class WelcomeScreen(ModalScreen[str]):
    """No data found: say where tiermon looked, offer the demo, or keep watching for the first session."""

    DEFAULT_CSS = """
    WelcomeScreen { align: center middle; }
    WelcomeScreen > Vertical {
        width: 72; max-width: 100%; height: auto; padding: 1 2;
        border: round $accent; background: $surface;
    }
    WelcomeScreen Static { height: auto; }
    WelcomeScreen Horizontal { height: auto; margin-top: 1; }
    WelcomeScreen Button { margin-right: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "choose('demo')", "Demo"),
        Binding("escape,w", "choose('wait')", "Wait for data"),
        Binding("q", "choose('quit')", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("No coding-agent data found", style="bold"), id="welcome-title")
            yield Static(Text.assemble(
                f"tiermon looked in {LOOKED_IN} and found no sessions yet.\n\n",
                "Open the ", ("demo", "bold"), " to see every pane with generated sample data, or keep this window "
                "open: it watches those folders and fills in as soon as a session starts. ",
                "To read other folders, start it with ", ("--source DIR", "bold"), ".",
            ), id="welcome-body")  # fmt: skip
            with Horizontal():
                yield Button("Open the demo (d)", id="demo", variant="primary")
                yield Button("Wait for data (Esc)", id="wait")
                yield Button("Quit (q)", id="quit")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "wait")
