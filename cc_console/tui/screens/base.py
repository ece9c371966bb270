"""What the console's screens share: the typed app, the database engine, failures shown in a
modal; drill-down screens add a breadcrumb title, esc to go back and re-reads on events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncEngine
from textual import on
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from ..keymap import action, bindings
from ..messages import DataChanged

if TYPE_CHECKING:
    from ..app import ConsoleApp

__all__ = ["ConsoleScreen", "DetailScreen"]


class ConsoleScreen(Screen[None]):
    """A screen of the console: ``console`` is the app, typed."""

    HELP = ""
    # keys that belong to widgets (a table's enter, a tab bar's tab), not ours to remap
    WIDGET_KEYS: ClassVar[list[tuple[str, str]]] = []

    @property
    def console(self) -> ConsoleApp:
        return cast("ConsoleApp", self.app)

    def key_for(self, binding_id: str) -> str:
        """The key that fires ``binding_id`` (as keymap.toml left it), as the key bar shows it."""
        keys = self.console.keymap_overrides.get(binding_id) or action(binding_id).keys
        return self.app.get_key_display(Binding(keys.split(",")[0], ""))

    def engine(self) -> AsyncEngine:
        engine = self.console.aengine
        assert engine is not None, "the console's engine opens before any screen"
        return engine

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # worker messages do not bubble: each screen shows its own failures, never crashes
        if event.state == WorkerState.ERROR:
            self.console.show_error("That did not work", event.worker.error)


class DetailScreen(ConsoleScreen):
    """A screen reached by drilling in; ``crumbs`` are the screens it was reached through."""

    BINDINGS: ClassVar = bindings("detail")

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
        if self.console.read_only:
            text.append("  READ-ONLY ", style="bold black on yellow")
        self.query_one("#crumbs", Static).update(text)

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_data_changed(self, message: DataChanged) -> None:
        """Re-read when the engine commits (override where the screen shows live data)."""
