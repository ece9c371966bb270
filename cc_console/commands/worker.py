"""``cc-console worker`` and ``cc-console jobs``: the worker pool on procrastinate, and its
queue as scripts see it; ``enqueue`` is what ``sync/resume/retry --enqueue`` call."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import DatabaseError, UsageError
from ..store.database import Database
from ..store.jobs import list_jobs
from ..store.queue_schema import queue_schema_problem
from ..workers.app import SYNC_QUEUE
from ..workers.app import enqueue as enqueue_on
from ..workers.serve import serve
from .common import console, emit_json, err_console, open_db, settings, with_async_engine

__all__ = ["background_worker", "enqueue", "jobs", "worker"]

JOB_STATES = ("todo", "doing", "failed", "succeeded", "cancelled", "aborted")


def _check_queue(database: Database) -> None:
    with database.engine.connect() as conn:
        problem = queue_schema_problem(conn)
    if problem is not None:
        raise DatabaseError(problem)


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, max=64, help="Runs this process syncs at once.")
    ] = 2,
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-q", help="Sync queue(s) to take jobs from (default: sync)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="This worker's name in runs and logs (default host:pid).")
    ] = None,
) -> None:
    """Run scheduled, queued and auto-resumed syncs until SIGTERM or Ctrl+C.

    Start any number, on any hosts that reach the database (CC_DATABASE_URL; the embedded
    server serves one machine). They share one queue, one schedule and the rate limits.
    """
    current = settings()
    worker_name = name or f"{socket.gethostname()}:{os.getpid()}"
    _log_to_stderr()
    with open_db() as database:
        _check_queue(database)
        queues = queue or [SYNC_QUEUE]

        def ready() -> None:
            err_console.print(
                f"worker {worker_name}: {concurrency} run(s) at once from queue(s)"
                f" {', '.join(queues)}; scheduling every {current.worker_tick_s} s."
                " SIGTERM or Ctrl+C stops it (runs end resumable)",
                markup=False,
            )

        asyncio.run(
            serve(
                database,
                current,
                name=worker_name,
                concurrency=concurrency,
                queues=queues,
                on_ready=ready,
            )
        )
    err_console.print(f"worker {worker_name}: stopped", markup=False)


def _log_to_stderr() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log = logging.getLogger("cc_console.worker")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def jobs(
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            help="todo (queued or scheduled), doing, failed, succeeded, cancelled, aborted;"
            " default: todo, doing, failed.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many, newest first.")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the workers' sync jobs: queued, scheduled, running and failed, with their runs."""
    states = tuple(state or ("todo", "doing", "failed"))
    unknown = sorted(set(states) - set(JOB_STATES))
    if unknown:
        raise UsageError(f"unknown job state {unknown[0]!r}; one of {', '.join(JOB_STATES)}")
    with open_db() as database:
        _check_queue(database)

        async def read(engine: AsyncEngine) -> list[dict[str, Any]]:
            async with engine.connect() as conn:
                return await list_jobs(conn, states=states, limit=limit)

        rows = asyncio.run(with_async_engine(database, read))
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print(
            "no jobs; `cc-console sync -t NAME --enqueue`, or schedule a template"
            " (`template add … --every 1h`) and start `cc-console worker`"
        )
        return
    table = Table(
        "job", "state", "queue", "action", "template", "scheduled", "run", "run status", box=None
    )
    for row in rows:
        state_text = row["status"]
        if state_text == "todo" and row["scheduled_at"] is not None:
            state_text = "scheduled"
        table.add_row(
            str(row["id"]),
            state_text,
            row["queue"],
            row["action"] or "",
            row["template"] or str(row["template_id"] or "")[:8],
            "" if row["scheduled_at"] is None else row["scheduled_at"].strftime("%m-%d %H:%M:%S"),
            "" if row["run_id"] is None else str(row["run_id"])[:8],
            row["run_status"] or "",
        )
    console.print(table)


def enqueue(
    database: Database,
    template_id: uuid.UUID,
    *,
    action: str,
    trigger: str,
    created_by: str,
    run_id: uuid.UUID | None = None,
    queue: str = SYNC_QUEUE,
) -> int | None:
    """Defer one sync job for the workers; None when the template has one queued already."""
    _check_queue(database)
    return asyncio.run(
        enqueue_on(
            database.url,
            template_id,
            action=action,
            trigger=trigger,
            created_by=created_by,
            run_id=run_id,
            queue=queue,
        )
    )


@contextmanager
def background_worker(log_path: Path, name: str, concurrency: int) -> Iterator[int]:
    """A `cc-console worker` process beside this one (the demo's): its output goes to
    ``log_path``; it gets SIGTERM on the way out, so its runs end resumable. Yields its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cc_console",
                "worker",
                "--name",
                name,
                "--concurrency",
                str(concurrency),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,  # it shares the terminal's session: a hangup stops it too
        )
        try:
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
