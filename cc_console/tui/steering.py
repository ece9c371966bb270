"""Steering runs from the console: start, resume, retry and cancel — here, or queued for
the workers when they are alive — and leaving while runs started here still go. Each is the
operator's action (``store/operator_actions.py``); the console sweeps stale runs only when it
resumes one (never on a timer)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from textual import on, work
from textual.app import App
from textual.worker import Worker, WorkerState

from ..engine import RunCompanion, mark_stale_runs, run_template
from ..engine.control import active_templates, continue_job, request_cancel
from ..errors import CcError
from ..settings import load_settings
from ..store.database import Database
from ..store.jobs import workers_alive
from ..store.operator_actions import OPERATOR_ACTION, Operator, record_action_async
from ..store.runs import run_view
from ..store.templates import ActiveTemplate
from ..workers.app import action_of, enqueue
from .screens.modals import ConfirmScreen, ErrorScreen
from .screens.picker import TemplatePicker

__all__ = ["RunSteering"]


class RunSteering(App[None]):
    """The console's run control; :class:`~cc_console.tui.app.ConsoleApp` builds on it and
    sets the state it reads."""

    aengine: AsyncEngine | None
    database: Database
    user: str
    operator: Operator
    read_only: bool
    companions: list[RunCompanion]
    console_runs: dict[Worker[Any], asyncio.Event]
    _dirty: bool

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
