"""A live progress display for headless syncs, fed from the run rows in the database."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.runs import RunProgress, run_progress

__all__ = ["describe", "watch_runs"]


def describe(run: RunProgress) -> str:
    """One line of numbers for a run: landed/count, rejected, pages, req/s, 429s, waits."""
    count = "?" if run.odata_count is None else f"{run.odata_count:,}"
    rate = run.requests / run.age_s if run.age_s else 0.0
    rejected = f" · {run.records_rejected:,} rejected" if run.records_rejected else ""
    return (
        f"{run.records_landed:,}/{count} landed{rejected} · {run.pages} pages · {rate:.1f} req/s · "
        f"{run.http_429_count} 429s · waited {run.wait_s:.1f}s · {run.status}"
    )


async def watch_runs(
    engine: AsyncEngine,
    templates: list[uuid.UUID],
    since: datetime,
    console: Console,
    stop: asyncio.Event,
    every_s: float = 0.25,
) -> None:
    """Redraw a bar per run until ``stop`` is set."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[uuid.UUID, TaskID] = {}
    with progress:
        while True:
            with contextlib.suppress(Exception):  # a display must never break the sync
                async with engine.connect() as conn:
                    rows = await run_progress(conn, templates, since)
                for run in rows:
                    total = run.odata_count or None
                    if run.id not in tasks:
                        tasks[run.id] = progress.add_task(run.resource_path, total=total, line="")
                    progress.update(
                        tasks[run.id], completed=run.records_landed, total=total, line=describe(run)
                    )
            if stop.is_set():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
