"""Who did what: the operator action log, newest first (`cc-console audit actions`)."""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from ...store.operator_actions import action_detail, list_actions
from ..components.key_bar import KeyBar
from ..components.live_table import Column, LiveTable
from ..format import plain, short_id, when
from ..messages import ActionsLoaded
from .base import DetailScreen

__all__ = ["ActionsScreen"]

SHOWN = 500
COLUMNS = [
    Column("at", "at", keep=10),
    Column("who", "who", keep=9),
    Column("via", "via", keep=4),
    Column("action", "action", keep=10),
    Column("target", "config / template", keep=7),
    Column("run", "run", keep=6),
    Column("detail", "detail", keep=3, flex=True, min_width=12),
]


class ActionsScreen(DetailScreen):
    """The operator action log: config and template changes, syncs, resumes, retries, cancels
    and maintenance, with who asked (OS user and database role) and through what."""

    HELP = (
        "Every action an operator asked for, newest first: who (OS user, database role, host),"
        " through the CLI or the console, and what it was about. Re-read on every commit."
    )
    WIDGET_KEYS: ClassVar = [("enter", "open the run an action is about")]

    def __init__(self, crumbs: list[str] | None = None) -> None:
        super().__init__(crumbs or ["Dashboard"], id="actions")
        self.table = LiveTable(COLUMNS, id="table-actions")
        self.rows: list[dict[str, Any]] = []

    @property
    def crumb(self) -> str:
        return "Actions"

    def compose(self) -> ComposeResult:
        yield self.breadcrumb()
        yield Static(id="actions-head", classes="report-head")
        yield self.table
        yield KeyBar()

    def on_mount(self) -> None:
        self.show_crumbs()
        self.load()
        self.table.focus()

    def on_data_changed(self, message: Any) -> None:
        self.load()

    @work(group="actions", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        async with self.engine().connect() as conn:
            rows = await conn.run_sync(lambda sync: list_actions(sync, limit=SHOWN))
        self.post_message(ActionsLoaded(rows))

    def on_actions_loaded(self, message: ActionsLoaded) -> None:
        self.rows = message.rows
        now = self.console.clock()
        self.table.sync([(str(a["id"]), None, partial(action_cells, a, now)) for a in message.rows])
        head = Text(f"{len(self.rows):,} action(s)", style="bold")
        if len(self.rows) == SHOWN:
            head.append(f" (the newest {SHOWN}; `cc-console audit actions` reads them all)")
        self.query_one("#actions-head", Static).update(head)

    def on_data_table_row_selected(self, event: Any) -> None:
        from .run_detail import RunDetailScreen

        action = next((a for a in self.rows if str(a["id"]) == event.row_key.value), None)
        if action is not None and action["run_id"] is not None:
            crumbs = [*self.crumbs, self.crumb]
            self.app.push_screen(RunDetailScreen(action["run_id"], crumbs=crumbs))


def action_cells(a: dict[str, Any], now: Any) -> list[Any]:
    target = a["config"] or ""
    if a["template_id"] is not None:
        target = a["template"] or short_id(a["template_id"]).plain
    return [
        when(a["at"], now),
        plain(f"{a['os_user']} ({a['db_role']}@{a['host']})"),
        plain(a["source"]),
        plain(a["action"], "bold"),
        plain(target),
        short_id(a["run_id"]),
        plain(action_detail(a)),
    ]
