"""The first screen: runs, live requests, rate limits, cursors and errors at once.

Wide terminals show the five panes in a grid; narrow ones (80x24) show one pane at a time
under a tab bar. Numbers and tab move between panes either way.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Container
from textual.css.query import NoMatches
from textual.events import Resize
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static, Tab, Tabs

from ...store.dashboard import Dashboard
from ..components.key_bar import KeyBar
from ..components.panes import (
    PANES,
    Pane,
    cursor_rows,
    error_rows,
    request_ref,
    request_rows,
    run_rows,
)
from ..keymap import bindings
from .base import ConsoleScreen

__all__ = ["DashboardScreen", "WIDE"]

WIDE = (110, 32)


# the panes that follow their newest row (the top) until the operator scrolls away
FOLLOWING = ("requests", "errors")


class DashboardScreen(ConsoleScreen):
    """Five live panes; the focused one outlined."""

    BINDINGS: ClassVar = bindings("dashboard")
    # a focus change repaints the two tables it concerns; Textual's default also repaints the
    # whole screen (five live tables) on every pane switch
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    HELP = "The five live panes (help describes the focused one)."
    WIDGET_KEYS: ClassVar = [("enter", "open the selected row")]

    def __init__(self) -> None:
        super().__init__(id="dashboard")
        self.panes = {spec.key: Pane(spec) for spec in PANES}
        self.data: Dashboard | None = None
        self.paused = False
        self.new_while_paused = 0
        self.active = "runs"
        self.compact = False
        self._topbar_text = Text()
        self._colours: tuple[str, tuple[Color, Color]] | None = None  # theme, frame colours

    def compose(self) -> ComposeResult:
        yield Static(id="topbar")
        yield Tabs(
            *(Tab(f"{s.number} {s.title}", id=f"tab-{s.key}") for s in PANES), id="pane-tabs"
        )
        with Container(id="panes"):
            yield from self.panes.values()
        yield Input(placeholder="filter the focused pane (enter keeps it, esc clears)", id="filter")
        yield KeyBar()

    def on_mount(self) -> None:
        for key in FOLLOWING:  # newest first: new rows must not go in unseen above the view
            self.panes[key].table.following = True
        self.query_one("#filter", Input).display = False
        self.panes["runs"].table.focus()
        self._layout(self.app.size.width, self.app.size.height)
        self._topbar()

    # -- layout ----------------------------------------------------------------------------
    def on_resize(self, event: Resize) -> None:
        self._layout(event.size.width, event.size.height)
        self._topbar()

    def _layout(self, width: int, height: int) -> None:
        self.compact = width < WIDE[0] or height < WIDE[1]
        self.set_class(self.compact, "-compact")
        self._mark_active()

    def _frame_focus(self, focused: str) -> None:
        """Frame the focused pane in the accent colour, the others in the panel's."""
        accent, panel = self._frame_colours()
        for key, pane in self.panes.items():
            colour = accent if key == focused else panel
            if pane.styles.border_top[1] != colour:
                pane.styles.border = ("round", colour)
                pane.styles.border_title_color = accent if key == focused else None

    def _frame_colours(self) -> tuple[Color, Color]:
        """(accent, panel frame) of the current theme, worked out once per theme (the theme's
        variables are generated anew on each ask: not on every pane switch)."""
        theme = self.app.theme
        if self._colours is None or self._colours[0] != theme:
            variables = self.app.get_css_variables()
            frame = (Color.parse(variables["accent"]), Color.parse(variables["panel-lighten-2"]))
            self._colours = (theme, frame)
        return self._colours[1]

    def _mark_active(self) -> None:
        # only the compact layout shows one pane; restyling five live tables costs a frame
        for key, pane in self.panes.items():
            pane.set_class(self.compact and key == self.active, "-active")

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        key = (event.tab.id or "tab-runs").removeprefix("tab-")
        if key != self.active:
            self._activate(key)

    def _activate(self, key: str) -> None:
        self.active = key
        self._mark_active()
        tabs = self.query_one("#pane-tabs", Tabs)
        if tabs.active != f"tab-{key}":
            tabs.active = f"tab-{key}"
        self.panes[key].focus_target.focus()

    def action_show_pane(self, number: int) -> None:
        self._activate(PANES[number - 1].key)

    def action_next_pane(self, step: int) -> None:
        keys = [s.key for s in PANES]
        self._activate(keys[(keys.index(self.focused_pane) + step) % len(keys)])

    @property
    def focused_pane(self) -> str:
        focused = self.focused
        for key, pane in self.panes.items():
            if focused is pane.focus_target:
                return key
        return self.active

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        for key in FOLLOWING:
            table = self.panes[key].table
            if event.data_table is table:
                table.following = table.cursor_row == 0  # lets go on scroll, back at the top
        self._topbar()  # the hint follows the selected run

    def on_descendant_focus(self) -> None:
        key = self.focused_pane
        self._frame_focus(key)
        if key != self.active:
            self.active = key
            self._mark_active()
        self._topbar()  # the run hint is pane 1's (redrawn only when its text changes)

    # -- live data -------------------------------------------------------------------------
    def apply(self, data: Dashboard) -> None:
        """Show a fresh read (requests stay frozen while paused)."""
        self.data = data
        now = data.now
        with self.app.batch_update():
            self._sync("runs", run_rows(data.runs.rows, now), data.runs.total)
            if self.paused:
                shown = set(self.panes["requests"].table.keys)
                self.new_while_paused = sum(
                    1 for key, *_ in request_rows(data.requests.rows, now) if key not in shown
                )
            else:
                self._sync(
                    "requests",
                    request_rows(data.requests.rows, now),
                    data.requests.total,
                    data.requests.exact,
                    note="24h",
                )
            limits = self.panes["limits"]
            assert limits.gauges is not None
            limits.gauges.show(data.scopes, now)
            limits.border_subtitle = f"{len(data.scopes)} scopes"
            self._sync("cursors", cursor_rows(data.cursors.rows, now), data.cursors.total)
            self._sync(
                "errors", error_rows(data.errors.rows, now), data.errors.total, data.errors.exact
            )
            self._topbar()

    def _sync(self, key: str, rows: Any, total: int, exact: bool = True, note: str = "") -> None:
        pane = self.panes[key]
        pane.table.sync(rows)
        pane.count(total, exact, note)

    def refresh_topbar(self) -> None:
        """Redraw the top bar (the app calls it when the database link goes or comes back)."""
        self._topbar()

    def _topbar(self) -> None:
        if not self.is_mounted:
            return
        app = self.console
        # (text, style, keep): at a narrow width the segments least worth keeping go first
        parts: list[tuple[str, str, int]] = [(f"  {app.db_label}", "dim", 1)]
        if self.data is not None:
            parts.append((f"  {self.data.active_runs} running", "cyan", 5))
            parts.append((f"  {self.data.now.strftime('%H:%M:%S')}", "dim", 2))
        if app.read_only:
            parts.append(("  READ-ONLY ", "bold black on yellow", 9))
        if app.stale:
            parts.append(("  STALE: reconnecting ", "bold white on red", 10))
        if self.paused:
            parts.append(("  PAUSED ", "bold black on magenta", 8))
            parts.append((f" {self.new_while_paused:,} new", "magenta", 7))
        elif self.panes["requests"].table.following:
            parts.append(("  following", "green", 3))
        hint = self.run_hint()
        if hint:
            parts.append((f"  {hint}", "bold yellow", 6))
        room = self.size.width - len(" cc-console ")
        while parts and sum(len(t) for t, _, _ in parts) > room:
            parts.remove(min(parts, key=lambda part: part[2]))
        text = Text(" cc-console ", style="bold reverse")
        for part, style, _ in parts:
            text.append(part, style=style)
        if text != self._topbar_text:  # a fixed one-line bar: no layout pass needed
            try:
                bar = self.query_one("#topbar", Static)
            except NoMatches:  # a refresh that lands while the screen is being torn down
                return
            self._topbar_text = text
            bar.update(text, layout=False)

    def run_hint(self) -> str:
        """What to do with the selected run of pane 1 when it did not succeed."""
        if self.console.read_only or self.focused_pane != "runs":
            return ""
        run = self.selected_run()
        if run is None or run["status"] not in ("failed", "partial"):
            return ""
        resume, retry = self.key_for("resume"), self.key_for("retry")
        return f"{run['status']} run: {resume} resume · {retry} retry"

    # -- pane actions ----------------------------------------------------------------------
    def action_follow(self) -> None:
        table = self.panes["requests"].table
        table.following = not table.following
        if table.following and table.row_count:
            table.move_cursor(row=0)
        self.notify("following the newest request" if table.following else "follow off")
        self._topbar()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.new_while_paused = 0
        if not self.paused and self.data is not None:
            self.apply(self.data)
        self._topbar()

    def action_filter(self) -> None:
        if self.focused_pane == "limits":
            self.notify("the rate-limit pane has nothing to filter")
            return
        box = self.query_one("#filter", Input)
        box.value = self.panes[self.focused_pane].table.filter_text
        box.display = True
        box.focus()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._set_filter(event.value.strip())

    def action_clear_filter(self) -> None:
        self._set_filter("")

    def _set_filter(self, value: str) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        pane = self.panes[self.active]
        pane.table.filter_text = value
        pane.focus_target.focus()
        if self.data is not None:
            self.apply(self.data)

    # -- drill-down ------------------------------------------------------------------------
    def selected_run(self) -> dict[str, Any] | None:
        """The run under the cursor of pane 1 (for r / R / c)."""
        if self.data is None:
            return None
        key = self.panes["runs"].table.selected_key
        return next((r for r in self.data.runs.rows if str(r["id"]) == key), None)

    @on(DataTable.RowSelected)
    def _drill(self, event: DataTable.RowSelected) -> None:
        from .request_detail import RequestDetailScreen
        from .run_detail import RunDetailScreen

        key = event.row_key.value or ""
        table_id = event.data_table.id
        if table_id == "table-runs":
            self.app.push_screen(RunDetailScreen(uuid.UUID(key), crumbs=["Dashboard"]))
        elif table_id == "table-requests":
            keys = [request_ref(k) for k in self.panes["requests"].table.keys]
            self.app.push_screen(
                RequestDetailScreen(keys, keys.index(request_ref(key)), crumbs=["Dashboard"])
            )
        elif table_id == "table-errors" and self.data is not None:
            error = next(e for e in self.data.errors.rows if str(e["id"]) == key)
            if error["request_id"] is not None:
                ref = (error["request_id"], error["request_sent_at"])
                self.app.push_screen(RequestDetailScreen([ref], 0, crumbs=["Dashboard"]))
            elif error["run_id"] is not None:
                self.app.push_screen(RunDetailScreen(error["run_id"], crumbs=["Dashboard"]))
        elif table_id == "table-cursors" and self.data is not None:
            cursor = next(c for c in self.data.cursors.rows if str(c["id"]) == key)
            if cursor["last_run_id"] is not None:
                self.app.push_screen(RunDetailScreen(cursor["last_run_id"], crumbs=["Dashboard"]))

    def on_screen_resume(self) -> None:
        self.console.refresh_dashboard()
