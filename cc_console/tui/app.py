"""The operator console: live panes over the database, steering runs through the engine.

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
from textual import on, work
from textual.app import App
from textual.events import Resize
from textual.worker import Worker, WorkerState

from ..engine import CompanionFactory, RunCompanion, mark_stale_runs, run_template
from ..engine.control import active_templates, continue_job, request_cancel
from ..errors import CcError
from ..settings import load_settings
from ..store.dashboard import load_dashboard
from ..store.database import Database
from ..store.jobs import workers_alive
from ..store.listen import listen_events
from ..store.operator_actions import OPERATOR_ACTION, Operator, record_action_async
from ..store.runs import run_view
from ..store.templates import ActiveTemplate
from ..workers.app import action_of, enqueue
from .keymap import bindings
from .messages import DashboardLoaded, DataChanged, LinkState
from .palette import ConsoleCommands
from .screens.dashboard import DashboardScreen
from .screens.modals import ConfirmScreen, ErrorScreen, HelpScreen, TooSmallScreen
from .screens.picker import TemplatePicker

__all__ = ["ConsoleApp", "MIN_SIZE"]

MIN_SIZE = (60, 16)
TICK_HZ = 10
MAX_FLUSH_HZ = 8
IDLE_REFRESH_S = 5.0
BUSY_REFRESH_S = 1.0  # request rows are not notified one by one; poll while runs are active
MUTATING = {"start_sync", "resume", "retry", "cancel_run"}


def local_now() -> datetime:
    return datetime.now().astimezone()


class ConsoleApp(App[None]):
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
    ) -> None:
        super().__init__()
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
                dashboard = await load_dashboard(conn, now=now)
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

    # -- runs started here -----------------------------------------------------------------
    def start_run(self, job: dict[str, Any], label: str = "") -> None:
        """Run a template in the background (it outlives screen switches)."""
        stop = asyncio.Event()
        worker = self.run_worker(
            self._run(job, stop), group="runs", exit_on_error=False, description=label or "sync"
        )
        self.console_runs[worker] = stop

    async def _run(self, job: dict[str, Any], stop: asyncio.Event) -> Any:
        assert self.aengine is not None
        return await run_template(
            self.aengine,
            **{"created_by": self.user, **job},
            cancel=stop,
            companions=self.companions,
        )

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "runs":
            if event.state == WorkerState.ERROR:  # an action of the app failed
                self.show_error("That did not work", worker.error)
            return
        if not worker.is_finished:
            return
        self.console_runs.pop(worker, None)
        self._dirty = True
        if event.state == WorkerState.ERROR:
            self.show_error("The sync could not run", worker.error)
        elif event.state == WorkerState.SUCCESS and worker.result is not None:
            summary = worker.result
            self.notify(
                f"run {summary.run_id[:8]} {summary.resource_path}: {summary.status}, "
                f"{summary.landed:,} records landed",
                markup=False,
                severity="information" if summary.status == "succeeded" else "warning",
            )

    def show_error(self, title: str, error: BaseException | None) -> None:
        """A modal with the error's first line (never markup, never a traceback)."""
        self.push_screen(ErrorScreen(title, _one_line(error)))

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

    async def action_start_sync(self) -> None:
        assert self.aengine is not None
        try:
            templates = await active_templates(self.aengine)
        except Exception as exc:
            self.show_error("Cannot list templates", exc)
            return
        if not templates:
            self.notify("no active templates; add one with `cc-console template add`")
            return

        def chosen(template: ActiveTemplate | None) -> None:
            if template is not None:
                self.start_sync_of(template)

        self.push_screen(TemplatePicker(templates), chosen)

    def start_sync_of(self, template: ActiveTemplate) -> None:
        """Start a run of ``template``."""
        # the operator started it here: a console run, also in the demo
        self.launch({"template_id": template.id, "trigger": "console"}, f"sync of {template.name}")

    def launch(self, job: dict[str, Any], label: str) -> None:
        """Start ``job`` here — or, when workers are alive, queue it for them."""
        self._launch(job, label)

    @work(group="control", exit_on_error=False)
    async def _launch(self, job: dict[str, Any], label: str) -> None:
        assert self.aengine is not None
        silent_after_s = 3 * load_settings().worker_heartbeat_s
        async with self.aengine.connect() as conn:
            alive = await workers_alive(conn, silent_after_s=silent_after_s)
        action = OPERATOR_ACTION[job["trigger"]]
        ids = {"template_id": job["template_id"], "run_id": job.get("parent_run_id")}
        if not alive:
            job["action_id"] = await record_action_async(self.aengine, self.operator, action, **ids)
            self.start_run(job, label)
            self.notify(f"{label} started", markup=False)
            return
        job_id = await enqueue(
            self.database.url,
            job["template_id"],
            action=action_of(job["trigger"]),
            trigger=job["trigger"],
            created_by=job.get("created_by", self.user),
            run_id=job.get("parent_run_id"),
        )
        detail = {"queued": True, "already_queued": job_id is None}
        await record_action_async(
            self.aengine, self.operator, action, **ids, job_id=job_id, detail=detail
        )
        if job_id is None:
            self.notify(f"{label}: a job is queued for it already", markup=False)
        else:
            self.notify(f"{label} queued for the workers (job {job_id})", markup=False)
        self._dirty = True

    def _selected_run(self) -> dict[str, Any] | None:
        getter = getattr(self.screen, "selected_run", None)
        run: dict[str, Any] | None = getter() if getter else None
        if run is None:
            self.notify("select a run first (pane 1, or a run's detail)", severity="warning")
        return run

    def action_resume(self) -> None:
        self._continue("resume")

    def action_retry(self) -> None:
        self._continue("retry")

    def _continue(self, trigger: str) -> None:
        run = self._selected_run()
        if run is None:
            return
        if run.get("stale") and not self.read_only:
            self._sweep_then_continue(run["id"], trigger)  # its engine is gone: end it first
            return
        self._go(run, trigger)

    @work(group="control", exit_on_error=False)
    async def _sweep_then_continue(self, run_id: uuid.UUID, trigger: str) -> None:
        """The console sweeps only here and when it starts a run (never on a timer)."""
        assert self.aengine is not None
        await mark_stale_runs(self.aengine)
        async with self.aengine.connect() as conn:
            swept = await run_view(conn, run_id)
        self._dirty = True
        if swept is not None:
            self._go(swept, trigger)

    def _go(self, run: dict[str, Any], trigger: str) -> None:
        try:
            job = continue_job(run, trigger, self.user)
        except CcError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        label = f"{trigger} of {str(run['id'])[:8]}"
        if trigger == "resume":
            self.launch(job, label)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.launch(job, label)

        self.push_screen(
            ConfirmScreen(
                f"Retry {run['resource_path']} from the start?",
                "A new run pages from $skip=0; Silver upserts keep records exact.",
            ),
            confirmed,
        )

    def action_cancel_run(self) -> None:
        run = self._selected_run()
        if run is None:
            return
        if run["status"] != "running":
            self.notify(f"that run is {run['status']}, not running", severity="warning")
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._cancel([run["id"]])

        self.push_screen(
            ConfirmScreen(
                f"Cancel run {str(run['id'])[:8]} ({run['resource_path']})?",
                "It stops between attempts and ends partial; `r` resumes it later.",
            ),
            confirmed,
        )

    @work(group="control", exit_on_error=False)
    async def _cancel(self, run_ids: list[uuid.UUID]) -> None:
        assert self.aengine is not None
        for run_id in run_ids:
            flagged = await request_cancel(self.aengine, run_id)
            await record_action_async(
                self.aengine, self.operator, "cancel", run_id=run_id, detail={"flagged": flagged}
            )
        self._dirty = True

    async def action_quit(self) -> None:
        """Every way out asks the same question (the palette's Quit calls this)."""
        await self.action_request_quit()

    async def action_request_quit(self) -> None:
        if not self.console_runs:
            self.exit()
            return

        def decided(choice: str | None) -> None:
            if choice == "cancel":
                self._cancel_ours_and_exit()
            elif choice == "wait":
                self.notify("waiting for the runs started here to finish…")
                self._exit_when_idle()

        count = len(self.console_runs)
        self.push_screen(
            ConfirmScreen(
                f"{count} run{'s' if count > 1 else ''} started here still running",
                "Cancel them (they end partial and can be resumed) or wait for them?",
                choices=(("cancel", "Cancel runs", "error"), ("wait", "Wait", "primary")),
            ),
            decided,
        )

    @work(group="control", exit_on_error=False)
    async def _cancel_ours_and_exit(self) -> None:
        assert self.aengine is not None
        count = len(self.console_runs)
        for stop in self.console_runs.values():
            stop.set()
        # one action: the operator cancelled the runs started here, by quitting
        detail = {"on_quit": True, "runs_started_here": count}
        await record_action_async(self.aengine, self.operator, "cancel", detail=detail)
        await self._wait_for_ours()
        self.exit()

    @work(group="control", exit_on_error=False)
    async def _exit_when_idle(self) -> None:
        await self._wait_for_ours()
        self.exit()

    async def _wait_for_ours(self) -> None:
        while self.console_runs:
            await asyncio.sleep(0.1)


def _one_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if isinstance(exc, CcError) else f"{type(exc).__name__}: {text}"
