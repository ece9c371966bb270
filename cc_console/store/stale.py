"""The stale-run sweep: runs whose engine is gone end failed/partial with an ``interrupted``
event, and their cursors with them, so they can be resumed.

A run is gone when its cursor's advisory lock is free (its session ended) or its heartbeat
is older than ``STALE_AFTER_S``. Any engine, ``runs`` or the console may sweep.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import ErrorKind
from .cursors import close_cursor, is_locked_elsewhere, lock_key
from .error_events import record_error_event
from .events import notify
from .runs import end_status, mark_interrupted, running_runs

__all__ = ["STALE_AFTER_S", "mark_stale_runs"]

STALE_AFTER_S = 120


async def mark_stale_runs(
    engine: AsyncEngine, *, stale_after_s: float = STALE_AFTER_S
) -> list[uuid.UUID]:
    """Mark ``running`` runs whose engine is gone; returns their ids."""
    marked: list[uuid.UUID] = []
    async with engine.begin() as conn:
        for run, old in await running_runs(conn, stale_after_s):
            key = lock_key(run.config_id, run.resource_path, run.filter_hash or "")
            if not old and await is_locked_elsewhere(conn, key):
                continue
            status = end_status(run.pages)
            await mark_interrupted(conn, run.id, status)
            await close_cursor(conn, run.id, status)
            await record_error_event(
                conn,
                kind=ErrorKind.INTERRUPTED,
                message="the engine running this sync stopped (crash, kill or"
                " lost connection); resume it from its cursor",
                config_id=run.config_id,
                run_id=run.id,
                retryable=True,
            )
            await notify(conn, "run", run_id=run.id, status=status)
            marked.append(run.id)
    return marked
