"""The workers' two task bodies: a sync job runs one run; a tick schedules and sweeps.

The tick, once per tick across all workers, in this order:

1. **Sweep dead workers.** procrastinate does not retry a job whose worker died: a job still
   ``doing`` on a worker silent for three heartbeats is failed here, which frees its template's
   lock, and the dead worker is pruned.
2. **End runs whose engine is gone** (the engine's stale sweep: the lease ran out), so they show
   ``interrupted`` and can be resumed.
3. **Resume** each template's latest worker-run run that ended for a cause that goes by itself
   (``ErrorKind.after_run == "auto_resume"``), up to ``CC_WORKER_MAX_AUTO_RESUMES`` times per
   chain, ``CC_WORKER_RESUME_DELAY_S * 2**n`` after it ended (by the database's clock).
4. **Start** each due template: its interval has passed since its last run started.

Steps 3 and 4 defer with the template's queueing lock: a template already queued is skipped.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status

from ..engine import run_template
from ..engine.control import StopRequest, continue_job
from ..engine.sealing import sweep_and_seal
from ..errors import ErrorKind, UsageError
from ..store.cursors import CursorBusy
from ..store.jobs import auto_resume_candidates, due_templates
from ..store.runs import latest_run_id, load_run
from .app import WorkerRuntime, defer_sync, runtime_of

__all__ = ["TickResult", "schedule_tick", "sync_job", "tick"]

logger = logging.getLogger("cc_console.worker")


async def sync_job(
    context: JobContext,
    template_id: str,
    action: str,
    trigger: str,
    created_by: str,
    run_id: str | None = None,
    auto_resumes: int = 0,
) -> None:
    """Run one run of a template: start it, or resume or retry the run ``run_id``."""
    runtime = runtime_of(context)
    stop = StopRequest(
        ErrorKind.INTERRUPTED,
        f"worker {runtime.name} stopped (SIGTERM) between attempts; a worker resumes the run",
    )
    runtime.stops.add(stop)
    if runtime.stopping:
        stop.set()
    try:
        kwargs: dict[str, Any] = {"trigger": trigger, "created_by": created_by}
        if action != "start":
            assert run_id is not None
            async with runtime.engine.connect() as conn:
                parent = await load_run(conn, uuid.UUID(run_id))
                latest = await conn.run_sync(
                    lambda sync: latest_run_id(sync, uuid.UUID(template_id))
                )
            if parent is None:
                logger.warning(
                    "job %s: run %s is gone; nothing to %s", context.job.id, run_id, action
                )
                return
            if auto_resumes and latest != parent.id:  # an operator went on from it meanwhile
                logger.warning(
                    "job %s: run %s is no longer its template's latest (%s is); not resumed again",
                    context.job.id,
                    run_id[:8],
                    str(latest)[:8],
                )
                return
            try:
                kwargs = continue_job(parent, action, created_by)
            except UsageError as exc:  # resumed by someone else meanwhile, or still running
                logger.warning("job %s: %s", context.job.id, exc)
                return
            kwargs.pop("template_id")
        summary = await run_template(
            runtime.engine,
            uuid.UUID(template_id),
            **kwargs,
            cancel=stop,
            companions=runtime.companions,
            job_id=context.job.id,
            auto_resumes=auto_resumes,
            on_wait=lambda line: logger.info("job %s: %s", context.job.id, line),
        )
    except CursorBusy as exc:  # another engine (a CLI sync, say) has the cursor
        logger.warning("job %s: %s", context.job.id, exc)
        return
    finally:
        runtime.stops.discard(stop)
    logger.info(
        "job %s: run %s %s %s: %s landed, %s requests",
        context.job.id,
        summary.run_id[:8],
        summary.resource_path,
        summary.status,
        summary.landed,
        summary.requests,
    )


async def tick(context: JobContext, timestamp: int) -> None:
    """The periodic scheduler (see the module's docstring)."""
    await schedule_tick(context.app, runtime_of(context))


@dataclass(frozen=True)
class TickResult:
    failed_jobs: list[int]
    interrupted_runs: list[uuid.UUID]
    resumed: list[int]
    started: list[int]


async def schedule_tick(app: procrastinate.App, runtime: WorkerRuntime) -> TickResult:
    settings = runtime.settings
    silent_s = 3 * settings.worker_heartbeat_s
    manager = app.job_manager
    failed = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=silent_s):
        assert job.id is not None
        await manager.finish_job_by_id_async(job.id, status=Status.FAILED, delete_job=False)
        failed.append(job.id)
    await manager.prune_stalled_workers(silent_s)
    interrupted = await sweep_and_seal(runtime.engine)
    async with runtime.engine.connect() as conn:
        candidates = await auto_resume_candidates(
            conn,
            max_auto_resumes=settings.worker_max_auto_resumes,
            base_delay_s=settings.worker_resume_delay_s,
        )
        due = await due_templates(conn)
    by = f"worker:{runtime.name}"
    resumed = []
    for candidate in candidates:
        job_id = await defer_sync(
            app,
            candidate.template_id,
            action="resume",
            trigger="resume",
            created_by=by,
            run_id=candidate.run_id,
            auto_resumes=candidate.auto_resumes + 1,
            schedule_at=candidate.resume_at,
        )
        if job_id is not None:
            resumed.append(job_id)
    started = []
    for template_id in due:
        job_id = await defer_sync(
            app, template_id, action="start", trigger="schedule", created_by=by
        )
        if job_id is not None:
            started.append(job_id)
    return TickResult(failed, interrupted, resumed, started)
