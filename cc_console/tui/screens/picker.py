"""Pick an active template to sync, searchable by name, resource or config."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...store.templates import ActiveTemplate
from ..keymap import bindings

__all__ = ["TemplatePicker"]


class TemplatePicker(ModalScreen[ActiveTemplate | None]):
    """Dismisses with the chosen template row, or None."""

    BINDINGS: ClassVar = bindings("picker")

    def __init__(self, templates: list[ActiveTemplate]) -> None:
        super().__init__(classes="modal")
        self.templates = templates

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog picker"):
            yield Static(Text("Start a sync", style="bold"), classes="dialog-title")
            yield Input(placeholder="search templates", id="search")
            yield OptionList(id="templates")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#search", Input).focus()

    def _fill(self, needle: str) -> None:
        options = self.query_one("#templates", OptionList)
        options.clear_options()
        needle = needle.lower()
        for n, t in enumerate(self.templates):
            haystack = f"{t.name} {t.resource_path} {t.config}".lower()
            if needle and needle not in haystack:
                continue
            label = Text(t.name, style="bold")
            label.append(f"  {t.resource_path}  ({t.config})", style="dim")
            if t.running:
                label.append("  running", style="cyan")
            options.add_option(Option(label, id=str(n)))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#search")
    def _submit(self) -> None:
        options = self.query_one("#templates", OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#templates")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id is not None:
            self.dismiss(self.templates[int(option_id)])

    def action_move(self, step: int) -> None:
        options = self.query_one("#templates", OptionList)
        if options.option_count:
            current = options.highlighted or 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
