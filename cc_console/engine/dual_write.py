"""A run's side of the cutover's dual-write: open the legacy mirror, then account for it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.secrets import SecretUnavailable
from ..migrate.mirror import LegacyMirror, mirror_client_name, resolve_legacy_url
from .runs import record_event

__all__ = ["finish_mirror", "open_mirror"]

_COUNTS = text(
    "UPDATE cc_sync_run SET legacy_writes = :written, legacy_write_failures = :failed"
    " WHERE id = :id"
)


async def open_mirror(engine: AsyncEngine, config: Any, run_id: uuid.UUID) -> LegacyMirror | None:
    """The config's mirror (None when it does not dual-write); marks the run as mirrored."""
    if not config.dual_write_legacy:
        return None
    name = mirror_client_name(config.name)
    try:
        mirror = LegacyMirror(resolve_legacy_url(config.legacy_url), name)
    except SecretUnavailable as exc:  # counted as lost, attempt by attempt; the sync goes on
        mirror = LegacyMirror(None, name, problem=f"legacy_url: {exc}")
    async with engine.begin() as conn:
        await conn.execute(_COUNTS, {"written": 0, "failed": 0, "id": run_id})
    return mirror


async def finish_mirror(
    engine: AsyncEngine, mirror: LegacyMirror, run_id: uuid.UUID, config_id: uuid.UUID
) -> None:
    """Flush the mirror, store its counts on the run, and explain any loss in one event."""
    written, failed = await asyncio.to_thread(mirror.close)
    with contextlib.suppress(SQLAlchemyError):
        async with engine.begin() as conn:
            await conn.execute(_COUNTS, {"written": written, "failed": failed, "id": run_id})
            if failed:
                await record_event(
                    conn,
                    kind="legacy_write",
                    message=(
                        f"{failed} of {written + failed} attempts not written to the legacy "
                        f"store: {mirror.problem}"
                    ),
                    run_id=run_id,
                    config_id=config_id,
                )
