"""Run lifecycle in the database: cursor locks, run rows, cursors, stale-run detection."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import CcError
from ..store.events import notify

__all__ = [
    "CursorBusy",
    "CursorLock",
    "create_run",
    "finish_run",
    "lock_key",
    "mark_stale_runs",
    "open_cursor",
    "record_event",
]

STALE_AFTER_S = 120


class CursorBusy(CcError):
    """Another engine holds the cursor's advisory lock."""

    exit_code = 2


def lock_key(config_id: uuid.UUID, resource_path: str, filter_hash: str) -> int:
    """A signed 64-bit advisory-lock key for one cursor."""
    digest = hashlib.sha256(f"{config_id}|{resource_path}|{filter_hash}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class CursorLock:
    """A session-level advisory lock held on its own connection for a whole run."""

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self.engine = engine
        self.key = key
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        """Take the lock without waiting; False when another engine has it."""
        self.conn = await self.engine.connect()
        got = (
            await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
        ).scalar_one()
        await self.conn.commit()
        if not got:
            await self.conn.close()
            self.conn = None
        return bool(got)

    async def release(self) -> None:
        """Give the lock back (closing the session would too)."""
        if self.conn is not None:
            await self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await self.conn.commit()
            await self.conn.close()
            self.conn = None


async def is_locked_elsewhere(conn: AsyncConnection, key: int) -> bool:
    """Whether some session holds the advisory lock ``key``."""
    got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar_one()
    if got:
        await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    return not got


async def record_event(
    conn: AsyncConnection,
    *,
    kind: str,
    message: str,
    run_id: uuid.UUID,
    config_id: uuid.UUID | None,
    retryable: bool = False,
    endpoint_path: str | None = None,
    detail: str | None = None,
) -> None:
    """An error event that belongs to a run rather than to one attempt."""
    await conn.execute(
        text(
            "INSERT INTO cc_error_event (kind, retryable, message, run_id, config_id,"
            " endpoint_path, detail) VALUES (:kind, :retryable, :message, :run, :config,"
            " :endpoint, CAST(:detail AS jsonb))"
        ),
        {
            "kind": kind,
            "retryable": retryable,
            "message": message[:2000],
            "run": run_id,
            "config": config_id,
            "endpoint": endpoint_path,
            "detail": detail,
        },
    )
    await conn.execute(
        text("UPDATE cc_sync_run SET error_count = error_count + 1 WHERE id = :run"),
        {"run": run_id},
    )


async def mark_stale_runs(
    engine: AsyncEngine, *, stale_after_s: float = STALE_AFTER_S
) -> list[uuid.UUID]:
    """Mark ``running`` runs whose engine is gone as failed/partial with an interrupted event.

    A run is gone when its cursor lock is free (its session ended) or its heartbeat is older
    than ``stale_after_s``.
    """
    marked: list[uuid.UUID] = []
    async with engine.begin() as conn:
        rows = (
            (
                await conn.execute(
                    text(
                        "SELECT id, config_id, resource_path, filter_hash, pages,"
                        " heartbeat_at < clock_timestamp() - make_interval(secs => :stale) AS old"
                        " FROM cc_sync_run WHERE status = 'running' FOR UPDATE SKIP LOCKED"
                    ),
                    {"stale": stale_after_s},
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            key = lock_key(row["config_id"], row["resource_path"], row["filter_hash"] or "")
            if not row["old"] and await is_locked_elsewhere(conn, key):
                continue
            status = "partial" if row["pages"] else "failed"
            await conn.execute(
                text(
                    "UPDATE cc_sync_run SET status = :status, finished_at = GREATEST(clock_timestamp(),"
                    " started_at), message = 'interrupted: the engine stopped without finishing'"
                    " WHERE id = :id"
                ),
                {"status": status, "id": row["id"]},
            )
            await conn.execute(
                text(
                    "UPDATE cc_pagination_state SET status = :status, updated_at = now()"
                    " WHERE last_run_id = :id AND status = 'running'"
                ),
                {"status": status, "id": row["id"]},
            )
            await record_event(
                conn,
                kind="interrupted",
                run_id=row["id"],
                config_id=row["config_id"],
                retryable=True,
                message="the engine running this sync stopped (crash, kill or"
                " lost connection); resume it from its cursor",
            )
            await notify(conn, "run", run_id=row["id"], status=status)
            marked.append(row["id"])
    return marked


async def create_run(engine: AsyncEngine, **values: Any) -> uuid.UUID:
    """Insert a ``running`` run and announce it."""
    async with engine.begin() as conn:
        run_id = (
            await conn.execute(
                text(
                    "INSERT INTO cc_sync_run (config_id, template_id, parent_run_id, resource_path,"
                    " filter_hash, trigger, status, sla_target_s, created_by) VALUES (:config_id,"
                    " :template_id, :parent_run_id, :resource_path, :filter_hash, :trigger, 'running',"
                    " :sla_target_s, :created_by) RETURNING id"
                ),
                values,
            )
        ).scalar_one()
        await notify(conn, "run", run_id=run_id, status="running")
    return run_id


async def finish_run(
    engine: AsyncEngine, run_id: uuid.UUID, status: str, message: str | None
) -> dict[str, Any]:
    """Close a run with its final status; return its row."""
    async with engine.begin() as conn:
        row = (
            (
                await conn.execute(
                    text(
                        "UPDATE cc_sync_run SET status = :status, message = :message,"
                        " finished_at = GREATEST(clock_timestamp(), started_at),"
                        " heartbeat_at = clock_timestamp() WHERE id = :id RETURNING *"
                    ),
                    {"status": status, "message": message, "id": run_id},
                )
            )
            .mappings()
            .one()
        )
        await notify(conn, "run", run_id=run_id, status=status)
    return dict(row)


@dataclass
class Cursor:
    """The pagination state a run starts from."""

    id: uuid.UUID
    next_skip: int
    next_link: str | None


async def open_cursor(
    engine: AsyncEngine,
    *,
    config_id: uuid.UUID,
    template_id: uuid.UUID,
    resource_path: str,
    filter_hash: str,
    filter_text: str | None,
    page_size: int,
    run_id: uuid.UUID,
    from_start: bool,
) -> Cursor:
    """Get or create the cursor; reset it for a run from the start."""
    async with engine.begin() as conn:
        row = (
            (
                await conn.execute(
                    text(
                        "INSERT INTO cc_pagination_state (config_id, template_id, resource_path,"
                        " filter_hash, filter_text, page_size, status, last_run_id) VALUES (:config,"
                        " :template, :path, :hash, :filter, :size, 'running', :run)"
                        " ON CONFLICT (config_id, resource_path, filter_hash) DO UPDATE SET"
                        " status = 'running', last_run_id = :run, template_id = :template,"
                        " page_size = :size, updated_at = now(),"
                        " next_skip = CASE WHEN :fresh THEN 0 ELSE cc_pagination_state.next_skip END,"
                        " next_link = CASE WHEN :fresh THEN NULL ELSE cc_pagination_state.next_link END,"
                        " records_landed = CASE WHEN :fresh THEN 0"
                        " ELSE cc_pagination_state.records_landed END"
                        " RETURNING id, next_skip, next_link"
                    ),
                    {
                        "config": config_id,
                        "template": template_id,
                        "path": resource_path,
                        "hash": filter_hash,
                        "filter": filter_text,
                        "size": page_size,
                        "run": run_id,
                        "fresh": from_start,
                    },
                )
            )
            .mappings()
            .one()
        )
    return Cursor(row["id"], row["next_skip"], row["next_link"])
