"""``cc_pagination_state``: one cursor per (config, resource, filter) — and who may move it.

A run takes the cursor's advisory lock for its whole life (``CursorLock``), opens the cursor
(from the start, or where it stands for a resume), advances it with every page it lands
(``ADVANCE``, one CTE of the landing statement) and closes it with the run's status.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import CcError
from .rows import fetch_dicts

__all__ = [
    "ADVANCE",
    "CursorBusy",
    "CursorLock",
    "CursorStart",
    "close_cursor",
    "count_cursors",
    "cursor_view",
    "cursors_view",
    "is_locked_elsewhere",
    "lock_key",
    "open_cursor",
    "restart_cursor",
]


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


@dataclass(frozen=True)
class CursorStart:
    """Where a run starts paging: the cursor's id and its position — and, when it had to
    start from the beginning although the run resumes, why."""

    id: uuid.UUID
    next_skip: int
    next_link: str | None
    restarted: str | None = None


def _shape_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in new if old.get(k) != new.get(k)]
    return ", ".join(changed)


async def open_cursor(
    engine: AsyncEngine,
    *,
    config_id: uuid.UUID,
    template_id: uuid.UUID,
    resource_path: str,
    filter_hash: str,
    filter_text: str | None,
    page_size: int,
    shape: dict[str, Any],
    run_id: uuid.UUID,
    from_start: bool,
) -> CursorStart:
    """Get or create the cursor and mark it ``running`` for ``run_id``; reset it to the
    start unless the run resumes — and even then when the position was made by another
    shape (order, page size, paging mode, select), since it means something else now."""
    async with engine.begin() as conn:
        old = (
            await conn.execute(
                text(
                    "SELECT shape, next_skip, next_link FROM cc_pagination_state"
                    " WHERE config_id = :config AND resource_path = :path AND filter_hash = :hash"
                    " FOR UPDATE"
                ),
                {"config": config_id, "path": resource_path, "hash": filter_hash},
            )
        ).one_or_none()
        restarted = None
        if not from_start and old is not None and old.shape is not None and old.shape != shape:
            restarted = f"the template's paging shape changed ({_shape_change(old.shape, shape)})"
        row = (
            await conn.execute(
                text(
                    "INSERT INTO cc_pagination_state (config_id, template_id, resource_path,"
                    " filter_hash, filter_text, page_size, shape, status, last_run_id) VALUES"
                    " (:config, :template, :path, :hash, :filter, :size, CAST(:shape AS jsonb),"
                    " 'running', :run)"
                    " ON CONFLICT (config_id, resource_path, filter_hash) DO UPDATE SET"
                    " status = 'running', last_run_id = :run, template_id = :template,"
                    " page_size = :size, shape = CAST(:shape AS jsonb), updated_at = now(),"
                    " next_skip = CASE WHEN :fresh THEN 0 ELSE cc_pagination_state.next_skip END,"
                    " next_link = CASE WHEN :fresh THEN NULL ELSE cc_pagination_state.next_link END,"
                    " records_landed = CASE WHEN :fresh THEN 0"
                    " ELSE cc_pagination_state.records_landed END,"
                    " records_rejected = CASE WHEN :fresh THEN 0"
                    " ELSE cc_pagination_state.records_rejected END"
                    " RETURNING id, next_skip, next_link"
                ),
                {
                    "config": config_id,
                    "template": template_id,
                    "path": resource_path,
                    "hash": filter_hash,
                    "filter": filter_text,
                    "size": page_size,
                    "shape": orjson.dumps(shape).decode(),
                    "run": run_id,
                    "fresh": from_start or restarted is not None,
                },
            )
        ).one()
    return CursorStart(row.id, row.next_skip, row.next_link, restarted)


async def restart_cursor(engine: AsyncEngine, cursor_id: uuid.UUID) -> None:
    """Back to the beginning: position, link and counts since the restart cleared."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE cc_pagination_state SET next_skip = 0, next_link = NULL,"
                " records_landed = 0, records_rejected = 0, updated_at = now() WHERE id = :id"
            ),
            {"id": cursor_id},
        )


# the cursor side of a page's landing: one CTE of the landing statement (see landing.py)
ADVANCE = """
    cursor_advance AS (
        UPDATE cc_pagination_state SET next_skip = :skip, next_link = CAST(:link AS text),
            records_landed = records_landed + :landed,
            records_rejected = records_rejected + :rejected,
            odata_count = COALESCE(CAST(:count AS bigint), odata_count), last_sync_at = now(),
            status = :status, last_run_id = :run, updated_at = now()
        WHERE id = :cursor
    )
"""


async def close_cursor(conn: AsyncConnection, run_id: uuid.UUID, status: str) -> None:
    """The cursor a run left ``running`` takes the run's final status (it stays resumable)."""
    await conn.execute(
        text(
            "UPDATE cc_pagination_state SET status = :status, updated_at = now()"
            " WHERE last_run_id = :run AND status = 'running'"
        ),
        {"status": status, "run": run_id},
    )


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_LIST_VIEW = text(
    """
    SELECT p.id, c.name AS config, p.resource_path, p.filter_text, p.filter_hash, p.next_skip,
           p.next_link, p.page_size, p.odata_count, p.records_landed, p.status, p.last_run_id,
           p.last_sync_at, p.template_id
    FROM cc_pagination_state p JOIN cc_api_client_config c ON c.id = p.config_id
    ORDER BY p.last_sync_at DESC NULLS LAST, p.id LIMIT :limit
    """
)

_RUN_CURSOR = text(
    """
    SELECT next_skip, next_link, odata_count, records_landed, status, last_sync_at, last_run_id
    FROM cc_pagination_state
    WHERE config_id = :config AND resource_path = :path AND filter_hash = :fh
    """
)


async def cursors_view(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """Cursors with their config's name, most recently synced first."""
    return await fetch_dicts(conn, _LIST_VIEW, limit=limit)


async def count_cursors(conn: AsyncConnection) -> int:
    """How many cursors there are."""
    return int((await conn.execute(text("SELECT count(*) FROM cc_pagination_state"))).scalar_one())


async def cursor_view(
    conn: AsyncConnection, config_id: uuid.UUID, resource_path: str, filter_hash: str | None
) -> dict[str, Any] | None:
    """The cursor of (config, resource, filter), or None."""
    found = await fetch_dicts(
        conn, _RUN_CURSOR, config=config_id, path=resource_path, fh=filter_hash
    )
    return found[0] if found else None
