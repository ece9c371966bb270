"""The procrastinate app of the workers: its tasks, and deferring a sync job.

Two tasks, named in the ``cc`` namespace:

- ``cc:sync`` — one run of one template (``start``, ``resume`` or ``retry``), on a sync queue
  (``sync`` unless the caller names another). Every sync job of a template carries the lock
  and queueing lock ``template:<id>``: procrastinate runs no two jobs with one lock at once and
  queues no second one beside a queued one, so a template never has two runs at once.
- ``cc:tick`` — the scheduler, a periodic task on the ``schedule`` queue; procrastinate
  defers it once per tick across all workers (``procrastinate_periodic_defers`` is unique by
  task and tick), and its queueing lock keeps a backlog of ticks from piling up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate import exceptions as procrastinate_errors
from procrastinate.job_context import JobContext
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from ..engine import RunCompanion
from ..engine.control import StopRequest
from ..settings import Settings
from ..store.jobs import SYNC_TASK, template_lock

__all__ = [
    "SCHEDULE_QUEUE",
    "SYNC_QUEUE",
    "TICK_TASK",
    "WorkerRuntime",
    "build_app",
    "action_of",
    "defer_sync",
    "enqueue",
]

SYNC_QUEUE = "sync"
SCHEDULE_QUEUE = "schedule"
TICK_TASK = "cc:tick"
ACTIONS = ("start", "resume", "retry")


def action_of(trigger: str) -> str:
    """The job action that makes a run of this trigger: resume and retry continue a run,
    every other trigger (manual, console, schedule, demo) starts one."""
    return trigger if trigger in ("resume", "retry") else "start"


@dataclass
class WorkerRuntime:
    """What a worker process's jobs share: its database engine, its name, its settings, and
    the stop requests of the runs it is running (set all at once when it shuts down)."""

    engine: AsyncEngine
    name: str
    settings: Settings
    stops: set[StopRequest] = field(default_factory=set)
    stopping: bool = False  # a stop signal came: a job that starts now stops at once
    companions: list[RunCompanion] = field(default_factory=list)  # the dual-write follower


def runtime_of(context: JobContext) -> WorkerRuntime:
    runtime = context.additional_context.get("runtime")
    if not isinstance(runtime, WorkerRuntime):
        raise RuntimeError("a cc-console job runs only in `cc-console worker`")
    return runtime


def build_app(conninfo: str, *, tick_s: int | None = None) -> procrastinate.App:
    """An app on the database at ``conninfo`` with both tasks; with ``tick_s``, the tick is
    registered as periodic (only the scheduling worker of a process defers it)."""
    from .jobs import sync_job, tick

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    app.task(name=SYNC_TASK, pass_context=True, queue=SYNC_QUEUE)(sync_job)
    tick_task = app.task(
        name=TICK_TASK, pass_context=True, queue=SCHEDULE_QUEUE, queueing_lock=TICK_TASK
    )(tick)
    if tick_s is not None:
        app.periodic_registry.register_task(
            task=tick_task,
            cron=f"* * * * * */{tick_s}",
            periodic_id="tick",
            configure_kwargs={},
        )
    return app


async def defer_sync(
    app: procrastinate.App,
    template_id: uuid.UUID,
    *,
    action: str,
    trigger: str,
    created_by: str,
    run_id: uuid.UUID | None = None,
    auto_resumes: int = 0,
    queue: str = SYNC_QUEUE,
    schedule_at: datetime | None = None,
) -> int | None:
    """Queue one sync job of a template; None when the template has a job queued already."""
    if action not in ACTIONS:
        raise ValueError(action)
    lock = template_lock(template_id)
    options: dict[str, Any] = {"lock": lock, "queueing_lock": lock, "queue": queue}
    if schedule_at is not None:
        options["schedule_at"] = schedule_at
    try:
        job_id: int = await app.configure_task(SYNC_TASK, **options).defer_async(
            template_id=str(template_id),
            action=action,
            trigger=trigger,
            created_by=created_by,
            run_id=None if run_id is None else str(run_id),
            auto_resumes=auto_resumes,
        )
    except procrastinate_errors.AlreadyEnqueued:
        return None
    return job_id


async def enqueue(url: URL, template_id: uuid.UUID, **options: Any) -> int | None:
    """:func:`defer_sync` from outside a worker (the CLI's ``--enqueue``, the console)."""
    from ..store.listen import psycopg_conninfo

    app = build_app(psycopg_conninfo(url))
    async with app.open_async():
        return await defer_sync(app, template_id, **options)
