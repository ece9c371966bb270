"""Small screens: confirm, error, help, and 'terminal too small'."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Static
from textual.widgets.button import ButtonVariant

from ..keymap import ACTIONS, Action, action, bindings

__all__ = ["ConfirmScreen", "ErrorScreen", "HelpScreen", "TooSmallScreen"]


class ConfirmScreen(ModalScreen[Any]):
    """Ask before something destructive; dismisses with the chosen value (None on esc)."""

    BINDINGS: ClassVar = bindings("confirm")

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

    BINDINGS: ClassVar = bindings("error")

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

    BINDINGS: ClassVar = bindings("help")

    def __init__(self, under: Screen[Any]) -> None:
        super().__init__(classes="modal")
        self.under = under

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Static(Text("Help", style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(self._body())

    def _body(self) -> Table:
        """What the screen (or the focused pane) is for, its keys, then the keys of every
        screen — as bound now, so a key remapped in keymap.toml shows as remapped."""
        from .dashboard import DashboardScreen

        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        bound = _bound_keys(self.under)
        own: list[Action] = []
        if isinstance(self.under, DashboardScreen):
            pane = self.under.panes[self.under.focused_pane].spec
            table.add_row(f"{pane.number} {pane.title}", pane.purpose)
            own = [action(binding_id) for binding_id in pane.keys]
        else:
            table.add_row("this screen", getattr(self.under, "HELP", ""))
        scopes = {a.scope for a in ACTIONS if a.id in bound} - {"app"}
        own += [a for a in ACTIONS if a.scope in scopes and a not in own]
        _rows(table, own, bound)
        for key, what in getattr(self.under, "WIDGET_KEYS", []):
            table.add_row(key, what)
        table.add_row("", "")
        _rows(table, [a for a in ACTIONS if a.scope == "app"], bound)
        return table


def _bound_keys(screen: Screen[Any]) -> dict[str, list[str]]:
    """Binding id -> the keys that fire it on ``screen`` now (after any keymap)."""
    keys: dict[str, list[str]] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.id is not None:
            shown = screen.app.get_key_display(binding)
            if shown not in keys.setdefault(binding.id, []):
                keys[binding.id].append(shown)
    return keys


def _rows(table: Table, actions: list[Action], bound: dict[str, list[str]]) -> None:
    """One row per description (the five pane keys share one), keys as bound."""
    described: dict[str, list[str]] = {}
    for a in actions:
        if a.id in bound:
            described.setdefault(a.description, []).extend(bound[a.id])
    for description, keys in described.items():
        table.add_row(" ".join(keys), description)


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
