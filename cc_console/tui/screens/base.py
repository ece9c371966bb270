"""What drill-down screens share: a breadcrumb title, esc to go back, re-reads on events."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from ..messages import DataChanged

__all__ = ["DetailScreen"]


class DetailScreen(Screen[None]):
    """A screen reached by drilling in; ``crumbs`` are the screens it was reached through."""

    BINDINGS: ClassVar = [Binding("escape", "back", "Back")]
    HELP = ""
    KEYS: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, crumbs: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crumbs = crumbs

    @property
    def crumb(self) -> str:
        """This screen's own name in the breadcrumb."""
        return self.__class__.__name__

    def breadcrumb(self) -> Static:
        return Static(id="crumbs")

    def show_crumbs(self, extra: str = "") -> None:
        text = Text(" › ".join([*self.crumbs, self.crumb]), style="bold")
        if extra:
            text.append(f"   {extra}", style="dim")
        app: Any = self.app
        if app.read_only:
            text.append("  READ-ONLY ", style="bold black on yellow")
        self.query_one("#crumbs", Static).update(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_data_changed(self, message: DataChanged) -> None:
        """Re-read when the engine commits (override where the screen shows live data)."""

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # worker messages do not bubble: each screen shows its own failures, never crashes
        if event.state == WorkerState.ERROR:
            app: Any = self.app
            app.show_error("That did not work", event.worker.error)

    def engine(self) -> Any:
        app: Any = self.app
        return app.aengine
