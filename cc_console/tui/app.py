"""The operator console: live panes over the database, steering runs through the engine
(``steering.py``).

The app owns three kinds of work, all in named workers that never touch widgets:
``listen`` (LISTEN on the engine's channel; sets a dirty flag), ``refresh`` (re-reads the
dashboard, at most ``MAX_FLUSH_HZ`` times a second) and ``runs`` (syncs started here).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncEngine
from textual import work
from textual.app import App
from textual.events import Resize
from textual.worker import Worker

from ..engine import CompanionFactory, RunCompanion
from ..store.dashboard import load_dashboard
from ..store.database import Database
from ..store.listen import listen_events
from ..store.operator_actions import Operator
from .keymap import bindings
from .messages import DashboardLoaded, DataChanged, LinkState
from .palette import ConsoleCommands
from .screens.dashboard import DashboardScreen
from .screens.modals import HelpScreen, TooSmallScreen
from .steering import RunSteering

__all__ = ["ConsoleApp", "MIN_SIZE"]

MIN_SIZE = (60, 16)
TICK_HZ = 10
MAX_FLUSH_HZ = 8
IDLE_REFRESH_S = 5.0
BUSY_REFRESH_S = 1.0  # request rows are not notified one by one; poll while runs are active
MUTATING = {"start_sync", "resume", "retry", "cancel_run"}


def local_now() -> datetime:
    return datetime.now().astimezone()


class ConsoleApp(RunSteering):
    """cc-console's Textual app; build it with :func:`cc_console.tui.make_app`."""

    CSS_PATH = "console.tcss"
    TITLE = "cc-console"
    NOTIFICATION_TIMEOUT: ClassVar[float] = 3  # a toast says one thing and goes
    COMMANDS: ClassVar = App.COMMANDS | {ConsoleCommands}
    BINDINGS: ClassVar = bindings("app")

    def __init__(
        self,
        database: Database,
        *,
        user: str = "cc-console",
        read_only: bool = False,
        clock: Callable[[], datetime] = local_now,
        live: bool = True,
        keymap: dict[str, str] | None = None,
        theme: str = "textual-dark",
        start_templates: list[uuid.UUID] | None = None,
        trigger: str = "console",
        db_label: str | None = None,
        companions: CompanionFactory | None = None,
        exports_dir: Path | None = None,
        redaction_key: bytes | None = None,
    ) -> None:
        super().__init__()
        # read-only: bodies, filters and curl are redacted under the deployment's key
        self.redaction_key = redaction_key if read_only else None
        self.database = database
        self.exports_dir = exports_dir or Path.cwd()  # where audit exports are written
        self.db_label = db_label or (
            f"embedded:{database.url.database}" if database.embedded else database.display_url
        )
        self.user = user
        self.operator = Operator(user, "console")  # who the action log says asked for what
        self.read_only = read_only
        self.clock = clock
        self.live = live
        self.trigger = trigger
        self._theme_name = theme
        self.keymap_overrides = keymap or {}  # binding id -> keys, from keymap.toml
        self._start_templates = list(start_templates or [])
        self.aengine: AsyncEngine | None = None
        self.dashboard_screen = DashboardScreen()
        self._too_small = TooSmallScreen(*MIN_SIZE)
        # the database link: the app alone owns it (the listener and the reads report to it)
        self.stale = False
        self.link_history: list[bool] = []  # up/down transitions
        self.loads = 0
        self._dirty = True
        self._loading = False
        self._last_start = 0.0
        self.read_ms: list[float] = []  # recent dashboard read times (shown by the benchmark)
        self._active_runs = 0
        self.console_runs: dict[Worker[Any], asyncio.Event] = {}
        self._companion_factory = companions  # e.g. the cutover's log follower
        self.companions: list[RunCompanion] = []

    # -- lifecycle -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        self.theme = self._theme_name
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        self.aengine = self.database.async_engine()
        if self._companion_factory is not None:
            self.companions = list(self._companion_factory(self.aengine))
        self.sub_title = self.db_label + (" · READ-ONLY" if self.read_only else "")
        await self.push_screen(self.dashboard_screen)
        if self.live:
            self.listen()
            self.set_interval(1 / TICK_HZ, self._tick)
        self.refresh_dashboard()
        for template_id in self._start_templates:
            self.start_run({"template_id": template_id, "trigger": self.trigger})
        self._check_size()

    async def on_unmount(self) -> None:
        for companion in self.companions:
            with contextlib.suppress(Exception):  # leaving must not fail on a follower
                await companion.aclose()
        if self.aengine is not None:
            await self.aengine.dispose()

    def on_resize(self, event: Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int | None = None, height: int | None = None) -> None:
        if self.dashboard_screen not in self.screen_stack:
            return  # mounting: checked again once the dashboard is up
        width = self.size.width if width is None else width
        height = self.size.height if height is None else height
        too_small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        showing = self._too_small in self.screen_stack
        if too_small and not showing:
            self.push_screen(self._too_small)
        elif showing and not too_small and self.screen is self._too_small:
            self.pop_screen()

    # -- live data -------------------------------------------------------------------------
    def _tick(self) -> None:
        if self._loading:
            return
        since = time.monotonic() - self._last_start
        due = BUSY_REFRESH_S if self._active_runs else IDLE_REFRESH_S
        if (self._dirty and since >= 1 / MAX_FLUSH_HZ) or since >= due:
            self.refresh_dashboard()

    @work(group="listen", exclusive=True, exit_on_error=False)
    async def listen(self) -> None:
        """Follow the engine's NOTIFY channel; reconnect with backoff when the link drops."""
        backoff = 0.5
        while True:
            try:
                async with listen_events(self.database.url) as events:
                    backoff = 0.5
                    self.post_message(LinkState(False))
                    async for _event in events:
                        self._dirty = True
            except Exception as exc:  # any failure of the link: show STALE, try again
                self.post_message(LinkState(True, type(exc).__name__))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def refresh_dashboard(self) -> None:
        """Re-read the panes now (coalesced with a read already running)."""
        if not self._loading:
            self._loading = True
            self._dirty = False
            self._last_start = time.monotonic()
            self._load()

    @work(group="refresh", exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        try:
            assert self.aengine is not None
            now = self.clock()
            async with self.aengine.connect() as conn:
                dashboard = await load_dashboard(conn, now=now, redaction_key=self.redaction_key)
            self.read_ms.append((time.monotonic() - self._last_start) * 1000)
            del self.read_ms[:-200]
            self.post_message(DashboardLoaded(dashboard))
        except Exception as exc:
            self._dirty = True
            self.post_message(LinkState(True, type(exc).__name__))
        finally:
            self._loading = False

    def on_dashboard_loaded(self, message: DashboardLoaded) -> None:
        self.loads += 1
        self._active_runs = message.dashboard.active_runs
        if self.stale:
            self.on_link_state(LinkState(False))
        self.dashboard_screen.apply(message.dashboard)
        if self.screen is not self.dashboard_screen:
            self.screen.post_message(DataChanged())

    def on_link_state(self, message: LinkState) -> None:
        if not self.link_history or self.link_history[-1] != message.stale:
            self.link_history.append(message.stale)
        self.stale = message.stale
        self.dashboard_screen.refresh_topbar()

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MUTATING and self.read_only:
            return None  # shown disabled in the footer, not hidden
        return True

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))

    def action_audit(self, query: str = "", crumbs: list[str] | None = None) -> None:
        from .screens.audit import AuditScreen

        self.push_screen(AuditScreen(query, crumbs=crumbs))

    def action_reports(self) -> None:
        from .screens.reports import ReportsScreen

        self.push_screen(ReportsScreen())

    def action_actions(self) -> None:
        from .screens.actions import ActionsScreen

        self.push_screen(ActionsScreen())

    def action_workers(self) -> None:
        from .screens.workers import WorkersScreen

        self.push_screen(WorkersScreen())
