"""The stale-run sweep: runs whose engine is gone end failed/partial with an ``interrupted``
event, and their cursors with them, so they can be resumed.

A run is gone when the lease on its cursor expired (``CC_CURSOR_LEASE_S``, 20 s; renewed
every 5 s by its heartbeat) or, for a run that holds no lease, when its heartbeat is older
than ``STALE_AFTER_S`` (30 s: six missed beats). A free advisory lock alone proves nothing:
the lock's connection can die under a live engine. Any engine, ``runs`` or the console may
sweep.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import ErrorKind
from .cursors import close_cursor, expired_owners
from .error_events import record_error_event
from .events import notify
from .runs import STALE_AFTER_S, end_status, mark_interrupted, running_runs

__all__ = ["STALE_AFTER_S", "mark_stale_runs"]


async def mark_stale_runs(
    engine: AsyncEngine, *, stale_after_s: float = STALE_AFTER_S
) -> list[uuid.UUID]:
    """Mark ``running`` runs whose engine is gone; returns their ids."""
    marked: list[uuid.UUID] = []
    async with engine.begin() as conn:
        expired = await expired_owners(conn)
        for run, old in await running_runs(conn, stale_after_s):
            if not old and run.id not in expired:
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
