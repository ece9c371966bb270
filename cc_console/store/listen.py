"""Following the engine live: LISTEN on the events channel, on its own connection.

The console (in this process, another process, or another host) wakes on each event and
re-reads what changed from the database — the database stays the one source of truth.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from .events import CHANNEL

__all__ = ["listen_events", "psycopg_conninfo"]


def psycopg_conninfo(url: URL) -> str:
    """A libpq connection string for ``url`` (host may be a Unix socket directory)."""
    params: dict[str, Any] = {
        "dbname": url.database,
        "user": url.username,
        "password": url.password,
        "host": url.query.get("host") or url.host,
        "port": url.query.get("port") or url.port,
    }
    parts = [f"{k}={_quote(str(v))}" for k, v in params.items() if v not in (None, "")]
    return " ".join(parts)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@asynccontextmanager
async def listen_events(url: URL) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
    """``async with listen_events(url) as events: async for event in events: ...``."""
    conn = await psycopg.AsyncConnection.connect(psycopg_conninfo(url), autocommit=True)
    try:
        await conn.execute(f"LISTEN {CHANNEL}")

        async def events() -> AsyncIterator[dict[str, Any]]:
            async for notice in conn.notifies():
                try:
                    yield json.loads(notice.payload)
                except ValueError:
                    continue

        yield events()
    finally:
        await conn.close()
