"""Live events: a small JSON payload on one NOTIFY channel after each commit."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["CHANNEL", "notify"]

CHANNEL = "cc_console_events"


async def notify(conn: AsyncConnection, kind: str, **ids: uuid.UUID | str | int | None) -> None:
    """Queue a notification; PostgreSQL delivers it when the transaction commits."""
    payload: dict[str, Any] = {
        "kind": kind,
        **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in ids.items()},
    }
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": CHANNEL, "payload": orjson.dumps(payload).decode()},
    )
