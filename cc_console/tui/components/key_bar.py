"""A footer of the screen's keys, drawn once per screen instead of on every focus change.

Textual's Footer rebuilds itself whenever the focus moves; with five live tables that cost
more than the rest of a key press. The keys of our screens do not depend on which table has
the focus, so this bar is drawn when the screen is shown. Disabled actions stay listed, dim.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

__all__ = ["KeyBar"]


class KeyBar(Static):
    """One line: ``key description`` for every shown binding of the screen and the app."""

    DEFAULT_CSS = "KeyBar { dock: bottom; height: 1; background: $panel; }"

    def on_mount(self) -> None:
        self.call_after_refresh(self.redraw)

    def redraw(self) -> None:
        """Re-read the active bindings (call after anything that enables or disables keys)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            style = "bold" if active.enabled else "dim strike"
            text.append(f" {self.app.get_key_display(binding)} ", style=f"{style} reverse")
            text.append(f" {binding.description} ", style="" if active.enabled else "dim")
        self.update(text)
