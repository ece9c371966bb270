"""``cc-console worker``: one process of the pool, until SIGTERM or Ctrl+C.

A process runs two procrastinate workers on one database engine: the **scheduler** (queue
``schedule``, one job at a time: the tick, which procrastinate defers once per tick across the
pool however many processes run) and the **syncer** (the sync queues, ``--concurrency`` runs at
once), so a tick is never stuck behind long runs.

SIGTERM (or SIGINT, or SIGHUP) asks every running run to stop between attempts with ``interrupted`` (its
run ends partial or failed, resumable, and a worker resumes it); no new job is taken, and the
process exits once they have ended — within the read timeout of the attempts in flight (a
run waiting out a backoff or a Retry-After window stops at once: ``client/pause.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Sequence

from procrastinate.worker import Worker
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..engine import RunCompanion
from ..settings import Settings
from ..store.database import Database
from ..store.jobs import name_workers
from ..store.listen import psycopg_conninfo
from .app import SCHEDULE_QUEUE, SYNC_QUEUE, WorkerRuntime, build_app

__all__ = ["serve"]

logger = logging.getLogger("cc_console.worker")

# a closed terminal (SIGHUP) stops a worker as gracefully as SIGTERM or Ctrl+C
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


async def serve(
    database: Database,
    settings: Settings,
    *,
    name: str,
    concurrency: int,
    queues: Sequence[str] = (SYNC_QUEUE,),
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Run until a stop signal; every run it started has ended when this returns."""
    from ..engine.silver_views import SilverViews
    from ..migrate.follower import DualWrite

    engine = database.async_engine()
    dual_write = DualWrite(engine)  # a config that dual-writes does so from workers too
    companions: list[RunCompanion] = [dual_write, SilverViews(engine)]  # views: --views
    runtime = WorkerRuntime(engine=engine, name=name, settings=settings, companions=companions)
    conninfo = psycopg_conninfo(database.url)
    scheduling = build_app(conninfo, tick_s=settings.worker_tick_s)
    syncing = build_app(conninfo)
    heartbeat = settings.worker_heartbeat_s
    common = {
        "install_signal_handlers": False,
        "additional_context": {"runtime": runtime},
        "update_heartbeat_interval": heartbeat,
        "stalled_worker_timeout": 3 * heartbeat,
        "fetch_job_polling_interval": 1.0,  # a job scheduled for later starts within 1 s
    }
    try:
        async with scheduling.open_async(), syncing.open_async():
            workers = [
                Worker(
                    scheduling,
                    queues=[SCHEDULE_QUEUE],
                    concurrency=1,
                    name=f"{name}/schedule",
                    delete_jobs="successful",  # ticks leave nothing behind
                    **common,  # type: ignore[arg-type]
                ),
                Worker(
                    syncing,
                    queues=list(queues),
                    concurrency=concurrency,
                    name=f"{name}/sync",
                    **common,  # type: ignore[arg-type]
                ),
            ]

            def stop(signum: int) -> None:
                logger.warning(
                    "worker %s: %s, stopping %d run(s) between attempts",
                    name,
                    signal.Signals(signum).name,
                    len(runtime.stops),
                )
                runtime.stopping = True
                for request in list(runtime.stops):
                    request.set()
                for worker in workers:
                    worker.stop()  # type: ignore[no-untyped-call]

            loop = asyncio.get_running_loop()
            for signum in STOP_SIGNALS:
                loop.add_signal_handler(signum, stop, signum)
            try:
                running = [
                    asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
                    for worker in workers
                ]
                await _name(engine, workers, name, running)
                on_ready()
                await asyncio.gather(*running)
            finally:
                for signum in STOP_SIGNALS:
                    loop.remove_signal_handler(signum)
    finally:
        await dual_write.aclose()
        await engine.dispose()


async def _name(
    engine: AsyncEngine, workers: list[Worker], name: str, running: list[asyncio.Task[None]]
) -> None:
    """Once both workers have registered, say which process they are (the Workers view)."""
    for _ in range(200):  # registering is their first statement: a few milliseconds
        if all(w.worker_id is not None for w in workers) or any(t.done() for t in running):
            break
        await asyncio.sleep(0.025)
    roles = zip(workers, ("schedule", "sync"), strict=True)
    named = [(int(w.worker_id), name, role) for w, role in roles if w.worker_id is not None]
    try:
        async with engine.begin() as conn:
            await name_workers(conn, named, socket.gethostname(), os.getpid())
    except SQLAlchemyError as exc:  # the names are for people: a worker runs without them
        logger.warning("worker %s: could not record its name (%s)", name, type(exc).__name__)
