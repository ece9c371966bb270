"""Deletions a full refresh detects: the keys its resume chain saw (``cc_run_seen_key``)
against the Silver rows of its scope; a soft delete (``deleted_at``) of those it did not see.

Only ever called once the chain's cursor completed; what is marked was either proven by the
count (every key the server has now was seen) or checked one by one (404).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["forget_seen", "mark_deleted", "seen_count", "seen_sample", "unseen_rows"]

_UNSEEN = """
    s.config_id = :config AND s.resource_path = :path AND s.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM cc_run_seen_key k
                      WHERE k.chain_run_id = :chain AND k.record_key = s.record_key)
"""


async def seen_count(conn: AsyncConnection, chain_run_id: uuid.UUID) -> int:
    """How many distinct keys the chain saw."""
    found = await conn.execute(
        text("SELECT count(*) FROM cc_run_seen_key WHERE chain_run_id = :chain"),
        {"chain": chain_run_id},
    )
    return int(found.scalar_one())


async def seen_sample(
    conn: AsyncConnection, config_id: uuid.UUID, path: str, chain_run_id: uuid.UUID
) -> dict[str, Any] | None:
    """The payload of one record the chain saw (a key known to exist, for a control probe)."""
    row = (
        await conn.execute(
            text(
                "SELECT s.payload FROM cc_run_seen_key k JOIN cc_silver_record s"
                " ON s.config_id = :config AND s.resource_path = :path"
                " AND s.record_key = k.record_key WHERE k.chain_run_id = :chain LIMIT 1"
            ),
            {"config": config_id, "path": path, "chain": chain_run_id},
        )
    ).scalar()
    return None if row is None else dict(row)


async def unseen_rows(
    conn: AsyncConnection, config_id: uuid.UUID, path: str, chain_run_id: uuid.UUID, limit: int
) -> list[tuple[str, dict[str, Any]]]:
    """Up to ``limit`` live Silver rows of the scope the chain did not see: (key, payload)."""
    rows = await conn.execute(
        text(
            f"SELECT s.record_key, s.payload FROM cc_silver_record s WHERE {_UNSEEN}"
            " ORDER BY s.record_key LIMIT :limit"
        ),
        {"config": config_id, "path": path, "chain": chain_run_id, "limit": limit},
    )
    return [(row.record_key, dict(row.payload)) for row in rows]


async def mark_deleted(
    conn: AsyncConnection,
    config_id: uuid.UUID,
    path: str,
    chain_run_id: uuid.UUID,
    run_id: uuid.UUID,
    keys: list[str] | None = None,
) -> int:
    """Mark the unseen rows of the scope deleted (only ``keys`` among them, when given); how
    many were marked. Counted on the run."""
    only = "" if keys is None else " AND s.record_key = ANY(CAST(:keys AS text[]))"
    marked = await conn.execute(
        text(
            "WITH marked AS (UPDATE cc_silver_record s SET deleted_at = now(),"
            f" deleted_run_id = :run WHERE {_UNSEEN}{only} RETURNING 1)"
            " UPDATE cc_sync_run SET records_deleted = (SELECT count(*) FROM marked)"
            " WHERE id = :run RETURNING records_deleted"
        ),
        {
            "config": config_id,
            "path": path,
            "chain": chain_run_id,
            "run": run_id,
            "keys": keys or [],
        },
    )
    return int(marked.scalar_one())


async def forget_seen(conn: AsyncConnection, chain_run_id: uuid.UUID) -> None:
    """The chain ended: its seen-key set is of no more use."""
    await conn.execute(
        text("DELETE FROM cc_run_seen_key WHERE chain_run_id = :chain"), {"chain": chain_run_id}
    )
