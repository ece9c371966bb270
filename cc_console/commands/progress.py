"""A live progress display for headless syncs, fed from the run rows in the database."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["describe", "watch_runs"]

_RUNS = text(
    "SELECT id, resource_path, status, pages, records, odata_count, requests, http_429_count,"
    " wait_s, EXTRACT(EPOCH FROM clock_timestamp() - started_at) AS age FROM cc_sync_run"
    " WHERE template_id = ANY(:templates) AND started_at >= :since ORDER BY started_at"
)


def describe(run: dict[str, Any]) -> str:
    """One line of numbers for a run: records/count, pages, req/s, 429s, waits."""
    count = "?" if run["odata_count"] is None else f"{run['odata_count']:,}"
    rate = run["requests"] / run["age"] if run["age"] else 0.0
    return (
        f"{run['records']:,}/{count} records · {run['pages']} pages · {rate:.1f} req/s · "
        f"{run['http_429_count']} 429s · waited {run['wait_s']:.1f}s · {run['status']}"
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
                    rows = (
                        (await conn.execute(_RUNS, {"templates": templates, "since": since}))
                        .mappings()
                        .all()
                    )
                for row in rows:
                    run = dict(row)
                    total = run["odata_count"] or None
                    if run["id"] not in tasks:
                        tasks[run["id"]] = progress.add_task(
                            run["resource_path"], total=total, line=""
                        )
                    progress.update(
                        tasks[run["id"]], completed=run["records"], total=total, line=describe(run)
                    )
            if stop.is_set():
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
