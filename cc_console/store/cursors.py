"""``cc_pagination_state``: one cursor per (config, resource, filter) — and who may move it.

A run takes the cursor's advisory lock for its whole life (``CursorLock``, the fast path),
then its lease (``open_cursor``: owner run, a fencing token bumped on every takeover, an
expiry renewed with the heartbeat). Every page it lands (``ADVANCE``, one CTE of the landing
statement) and every request row it writes ahead is conditional on the lease (``FENCE``):
when the lock's connection dies and another engine takes the cursor over, the first run
finds out at its next write and stops. ``close_cursor`` gives the lease back with the run's
status.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import CcError, ErrorKind, StopRun
from .rows import fetch_dicts

__all__ = [
    "ADVANCE",
    "CursorBusy",
    "CursorLock",
    "CursorStart",
    "FENCE",
    "LOST",
    "Lease",
    "LostCursor",
    "close_cursor",
    "count_cursors",
    "cursor_view",
    "cursors_view",
    "expired_owners",
    "lease_remaining",
    "lock_key",
    "open_cursor",
    "release_lease",
    "renew_lease",
    "restart_cursor",
    "start_keyset",
    "wait_for_lease",
]


class CursorBusy(CcError):
    """Another engine holds the cursor: its advisory lock, or a live lease."""

    exit_code = 2


class LostCursor(StopRun):
    """Another run owns the cursor now (this run's lease expired or was taken over)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(ErrorKind.LOST_CURSOR, message or LOST, retryable=True)


@dataclass(frozen=True)
class Lease:
    """A run's hold on its cursor: what every fenced write must still find in the row."""

    cursor_id: uuid.UUID
    run_id: uuid.UUID
    token: int
    seconds: float

    def params(self) -> dict[str, object]:
        """The parameters of ``FENCE``."""
        return {"cursor": self.cursor_id, "run": self.run_id, "token": self.token}


# the condition every write of a leased run carries (``cc_pagination_state`` as ``lease``)
FENCE = """
    EXISTS (SELECT 1 FROM cc_pagination_state lease WHERE lease.id = :cursor
            AND lease.owner_run_id = :run AND lease.lease_token = :token)
"""


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
        """Give the lock back (closing the session would too). A connection that died
        meanwhile (terminated, idle timeout) took the lock with it: nothing to give back,
        and its error must not hide how the run ended."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await conn.commit()
        except (SQLAlchemyError, OSError):
            with contextlib.suppress(SQLAlchemyError, OSError):
                await conn.invalidate()
        finally:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await conn.close()


async def lease_remaining(conn: AsyncConnection, run_id: uuid.UUID) -> float | None:
    """Seconds left on the live lease ``run_id`` holds; None when it holds none."""
    left = (
        await conn.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM lease_expires_at - clock_timestamp())"
                " FROM cc_pagination_state WHERE owner_run_id = :run"
                " AND lease_expires_at > clock_timestamp()"
            ),
            {"run": run_id},
        )
    ).scalar()
    return None if left is None else float(left)


async def expired_owners(conn: AsyncConnection) -> set[uuid.UUID]:
    """The runs whose lease on a cursor ran out without being given back."""
    rows = await conn.execute(
        text(
            "SELECT owner_run_id FROM cc_pagination_state"
            " WHERE owner_run_id IS NOT NULL AND lease_expires_at <= clock_timestamp()"
        )
    )
    return {row.owner_run_id for row in rows}


@dataclass(frozen=True)
class CursorStart:
    """Where a run starts paging: the cursor's id and its position, the run's lease on it —
    and, when it had to start from the beginning although the run resumes, why."""

    id: uuid.UUID
    next_skip: int
    next_link: str | None
    lease: Lease
    restarted: str | None = None
    keyset: dict[str, Any] | None = None  # keyset paging: where the last landed page left it
    watermark: dict[str, Any] | None = None  # ... and the last run that completed


def _shape_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    changed = [f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in new if old.get(k) != new.get(k)]
    return ", ".join(changed)


_HOLDER = text(
    "SELECT owner_run_id, lease_token, lease_expires_at,"
    " lease_expires_at > clock_timestamp() AS live,"
    " EXTRACT(EPOCH FROM lease_expires_at - clock_timestamp()) AS remaining_s"
    " FROM cc_pagination_state"
    " WHERE config_id = :config AND resource_path = :path AND filter_hash = :hash"
)


def _held_message(owner: uuid.UUID, expires_at: datetime, path: str, why: str) -> str:
    return (
        f"run {str(owner)[:8]} owns the cursor of {path} until"
        f" {expires_at:%Y-%m-%d %H:%M:%S} UTC ({why}); wait for it to finish, or cancel it"
    )


async def wait_for_lease(
    engine: AsyncEngine,
    *,
    config_id: uuid.UUID,
    resource_path: str,
    filter_hash: str,
    on_wait: Callable[[str], None] | None = None,
) -> None:
    """Return once no live lease holds the cursor. Called with the advisory lock held: a
    live lease then means its run's lock connection died — the run is alive if it renews
    the lease (refused: ``CursorBusy``), gone if the lease runs out (it is free then).
    ``on_wait`` is told once, in a line, what is waited for and how long at most."""
    params = {"config": config_id, "path": resource_path, "hash": filter_hash}
    seen: tuple[uuid.UUID, int, datetime] | None = None
    deadline: float | None = None
    while True:
        async with engine.connect() as conn:
            row = (await conn.execute(_HOLDER, params)).one_or_none()
        if row is None or row.owner_run_id is None or not row.live:
            return
        holder = (row.owner_run_id, row.lease_token, row.lease_expires_at)
        if seen is None:
            seen = holder
            deadline = time.monotonic() + float(row.remaining_s) + 1.0
            if on_wait is not None:
                on_wait(
                    f"waiting up to {float(row.remaining_s):.0f} s for the lease of run"
                    f" {str(row.owner_run_id)[:8]} on {resource_path} to run out (its engine"
                    " stopped without ending it, or lost its connection)"
                )
        elif holder != seen or (deadline is not None and time.monotonic() > deadline):
            raise CursorBusy(
                _held_message(
                    row.owner_run_id,
                    row.lease_expires_at,
                    resource_path,
                    "its engine renews the lease, though the connection holding its lock was lost",
                )
            )
        await asyncio.sleep(min(0.25, max(0.01, float(row.remaining_s))))


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
    lease_s: float,
) -> CursorStart:
    """Get or create the cursor, take its lease for ``run_id`` (the token goes up by one)
    and mark it ``running``; reset it to the start unless the run resumes — and even then
    when the position was made by another shape (order, page size, paging mode, select),
    since it means something else now. A live lease of another run: ``CursorBusy``."""
    async with engine.begin() as conn:
        old = (
            await conn.execute(
                text(
                    "SELECT shape, next_skip, next_link, owner_run_id, lease_expires_at,"
                    " lease_expires_at > clock_timestamp() AS live FROM cc_pagination_state"
                    " WHERE config_id = :config AND resource_path = :path AND filter_hash = :hash"
                    " FOR UPDATE"
                ),
                {"config": config_id, "path": resource_path, "hash": filter_hash},
            )
        ).one_or_none()
        if old is not None and old.live and old.owner_run_id != run_id:
            raise CursorBusy(
                _held_message(old.owner_run_id, old.lease_expires_at, resource_path, "its lease")
            )
        restarted = None
        if not from_start and old is not None and old.shape is not None and old.shape != shape:
            restarted = f"the template's paging shape changed ({_shape_change(old.shape, shape)})"
        row = (
            await conn.execute(
                text(
                    "INSERT INTO cc_pagination_state (config_id, template_id, resource_path,"
                    " filter_hash, filter_text, page_size, shape, status, last_run_id,"
                    " owner_run_id, lease_token, lease_expires_at) VALUES"
                    " (:config, :template, :path, :hash, :filter, :size, CAST(:shape AS jsonb),"
                    " 'running', :run, :run, 1,"
                    " clock_timestamp() + make_interval(secs => :lease))"
                    " ON CONFLICT (config_id, resource_path, filter_hash) DO UPDATE SET"
                    " status = 'running', last_run_id = :run, template_id = :template,"
                    " owner_run_id = :run, lease_token = cc_pagination_state.lease_token + 1,"
                    " lease_expires_at = clock_timestamp() + make_interval(secs => :lease),"
                    " page_size = :size, shape = CAST(:shape AS jsonb), updated_at = now(),"
                    " next_skip = CASE WHEN :fresh THEN 0 ELSE cc_pagination_state.next_skip END,"
                    " next_link = CASE WHEN :fresh THEN NULL ELSE cc_pagination_state.next_link END,"
                    " records_landed = CASE WHEN :fresh THEN 0"
                    " ELSE cc_pagination_state.records_landed END,"
                    " records_rejected = CASE WHEN :fresh THEN 0"
                    " ELSE cc_pagination_state.records_rejected END,"
                    " keyset = CASE WHEN :fresh THEN NULL ELSE cc_pagination_state.keyset END"
                    # the data's own guard: never over a live lease of another run
                    " WHERE cc_pagination_state.lease_expires_at IS NULL"
                    " OR cc_pagination_state.lease_expires_at <= clock_timestamp()"
                    " OR cc_pagination_state.owner_run_id = :run"
                    " RETURNING id, next_skip, next_link, lease_token, keyset, watermark"
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
                    "lease": lease_s,
                },
            )
        ).one_or_none()
        if row is None:
            raise CursorBusy(f"another run took the cursor of {resource_path} just now")
    lease = Lease(row.id, run_id, row.lease_token, lease_s)
    return CursorStart(
        row.id, row.next_skip, row.next_link, lease, restarted, row.keyset, row.watermark
    )


async def restart_cursor(engine: AsyncEngine, lease: Lease) -> None:
    """Back to the beginning: position, link and counts since the restart cleared."""
    async with engine.begin() as conn:
        moved = (
            await conn.execute(
                text(
                    "UPDATE cc_pagination_state SET next_skip = 0, next_link = NULL,"
                    " records_landed = 0, records_rejected = 0, keyset = NULL, updated_at = now()"
                    " WHERE id = :cursor AND owner_run_id = :run AND lease_token = :token"
                    " RETURNING id"
                ),
                lease.params(),
            )
        ).one_or_none()
    if moved is None:
        raise LostCursor()


async def start_keyset(engine: AsyncEngine, lease: Lease, keyset: dict[str, Any]) -> None:
    """Where a keyset run starts (its lower bound, no position yet), kept before its first
    page so a resume of a run that landed nothing starts from the same place."""
    async with engine.begin() as conn:
        moved = (
            await conn.execute(
                text(
                    "UPDATE cc_pagination_state SET keyset = CAST(:keyset AS jsonb),"
                    " updated_at = now()"
                    " WHERE id = :cursor AND owner_run_id = :run AND lease_token = :token"
                    " RETURNING id"
                ),
                {**lease.params(), "keyset": orjson.dumps(keyset).decode()},
            )
        ).one_or_none()
    if moved is None:
        raise LostCursor()


# the cursor side of a page's landing: one CTE of the landing statement (see landing.py).
# Fenced: it moves the cursor only for the lease's run and token (a landing renews the
# lease); the landing counts ``cursor_advance`` and rolls back when it moved nothing.
ADVANCE = """
    cursor_advance AS (
        UPDATE cc_pagination_state SET next_skip = :skip, next_link = CAST(:link AS text),
            records_landed = records_landed + :landed,
            records_rejected = records_rejected + :rejected,
            odata_count = COALESCE(CAST(:count AS bigint), odata_count), last_sync_at = now(),
            status = :status, last_run_id = :run, updated_at = now(),
            keyset = COALESCE(CAST(:keyset AS jsonb), keyset),
            watermark = COALESCE(CAST(:watermark AS jsonb), watermark),
            lease_expires_at = clock_timestamp() + make_interval(secs => :lease_s)
        WHERE id = :cursor AND owner_run_id = :run AND lease_token = :token
        RETURNING id
    )
"""

LOST = (
    "this run lost its cursor (another run took it over, or its lease ran out and a sweep"
    " ended the run); it stops and sends nothing more — resume it once the other run ended"
)


async def renew_lease(conn: AsyncConnection, lease: Lease) -> bool:
    """Extend the lease by its length; False when it is no longer this run's. A lease that
    ran out while the database was away is extended too, as long as nobody took the cursor
    over and no sweep ended the run (both take the lease away)."""
    row = (
        await conn.execute(
            text(
                "UPDATE cc_pagination_state SET lease_expires_at = clock_timestamp()"
                " + make_interval(secs => :seconds) WHERE id = :cursor AND owner_run_id = :run"
                " AND lease_token = :token RETURNING id"
            ),
            {**lease.params(), "seconds": lease.seconds},
        )
    ).one_or_none()
    return row is not None


async def release_lease(conn: AsyncConnection, run_id: uuid.UUID) -> None:
    """The run is done with its cursor: the next run need not wait for the lease."""
    await conn.execute(
        text(
            "UPDATE cc_pagination_state SET owner_run_id = NULL, lease_expires_at = NULL"
            " WHERE owner_run_id = :run"
        ),
        {"run": run_id},
    )


async def close_cursor(conn: AsyncConnection, run_id: uuid.UUID, status: str) -> None:
    """The run's lease is taken away (by the run itself, or by the sweep: a run swept as
    interrupted can never land again); the cursor it left ``running`` takes the run's final
    status (it stays resumable). Cursors another run took over are not touched."""
    await conn.execute(
        text(
            "UPDATE cc_pagination_state SET owner_run_id = NULL, lease_expires_at = NULL,"
            " updated_at = now(),"
            " status = CASE WHEN status = 'running' THEN :status ELSE status END"
            " WHERE owner_run_id = :run"
            # a cursor opened before leases existed
            " OR (owner_run_id IS NULL AND last_run_id = :run AND status = 'running')"
        ),
        {"status": status, "run": run_id},
    )


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_LIST_VIEW = text(
    """
    SELECT p.id, c.name AS config, p.resource_path, p.filter_text, p.filter_hash, p.next_skip,
           p.next_link, p.page_size, p.odata_count, p.records_landed, p.status, p.last_run_id,
           p.last_sync_at, p.template_id, p.watermark
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
