"""Small screens: confirm, error, help, and 'terminal too small'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from ..keymap import ACTIONS

__all__ = ["ConfirmScreen", "ErrorScreen", "HelpScreen", "TooSmallScreen"]


class ConfirmScreen(ModalScreen[Any]):
    """Ask before something destructive; dismisses with the chosen value (None on esc)."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss_none", "Back"), Binding("y", "yes", "Yes")]

    def __init__(
        self,
        question: str,
        detail: str = "",
        choices: Sequence[tuple[Any, str, str]] = ((True, "Yes", "error"), (None, "No", "default")),
    ) -> None:
        super().__init__(classes="modal")
        self.question, self.detail, self.choices = question, detail, list(choices)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, style="bold"), classes="dialog-title")
            if self.detail:
                yield Static(Text(self.detail), classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                for n, (_, label, variant) in enumerate(self.choices):
                    yield Button(label, variant=cast(ButtonVariant, variant), id=f"choice-{n}")

    def on_mount(self) -> None:
        self.query_one("#choice-0", Button).focus()

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        self.dismiss(self.choices[int((event.button.id or "choice-0").split("-")[1])][0])

    def action_yes(self) -> None:
        self.dismiss(self.choices[0][0])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ErrorScreen(ModalScreen[None]):
    """An error from a worker, shown instead of crashing."""

    BINDINGS: ClassVar = [Binding("escape,enter", "dismiss", "Close")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__(classes="modal")
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error"):
            yield Static(Text(self.title_text, style="bold red"), classes="dialog-title")
            yield Static(Text(self.message), classes="dialog-body")
            yield Button("Close", variant="primary", id="close")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Purpose and keys of the focused pane, then the keys that work everywhere."""

    BINDINGS: ClassVar = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__(classes="modal")
        self.under = under

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(Text("Help", style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self._body())

    def _body(self) -> Table:
        from .dashboard import DashboardScreen

        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        purpose = getattr(self.under, "HELP", "")
        if isinstance(self.under, DashboardScreen):
            pane = self.under.panes[self.under.focused_pane].spec
            table.add_row(f"{pane.number} {pane.title}", pane.purpose)
            for key in pane.keys:
                table.add_row(key, _PANE_KEYS.get(key, ""))
            table.add_row("1-5 tab", "move between panes")
        elif purpose:
            table.add_row("this screen", purpose)
            for key, what in getattr(self.under, "KEYS", []):
                table.add_row(key, what)
        table.add_row("", "")
        for binding_id, (keys, _, _, what) in ACTIONS.items():
            if binding_id in ("next_pane", "prev_pane", "filter", "follow", "pause"):
                continue
            table.add_row(_display_keys(keys), what)
        table.add_row("esc", "back")
        return table


_PANE_KEYS = {
    "s": "start a sync (template picker)",
    "r": "resume the selected failed/partial run",
    "R": "retry the selected run from the start",
    "c": "cancel the selected running run",
    "enter": "open the selected row",
    "/": "filter this pane (esc clears)",
    "F": "follow the newest request",
    "space": "pause / resume this pane",
}


def _display_keys(keys: str) -> str:
    names = {"question_mark": "?", "slash": "/", "colon": ":", "space": "space"}
    return " ".join(names.get(k, k) for k in keys.split(","))


class TooSmallScreen(Screen[None]):
    """Shown instead of a broken layout while the terminal is below the minimum size."""

    def __init__(self, width: int, height: int) -> None:
        super().__init__(classes="too-small")
        self.need = (width, height)

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"terminal too small (need {self.need[0]}x{self.need[1]})", style="bold"),
            id="too-small-message",
        )
