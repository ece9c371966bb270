"""Drill-down reads for the console, from each table's home: one run with its timeline, one
request with its response.

Headers in the log are masked before they were stored, so what is read here is safe to show;
``as_curl`` rebuilds a request for a terminal without ever having had the key.
"""

from __future__ import annotations

import shlex
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from .audit_log import request_view, run_timeline
from .cursors import cursor_view
from .error_events import request_errors_view, run_errors_view
from .rows import fetch_dicts
from .runs import run_view
from .validations import validation_view

__all__ = ["RequestKey", "as_curl", "fetch_dicts", "load_request", "load_run"]

RequestKey = tuple[uuid.UUID, datetime]
TIMELINE_CAP = 2000


async def load_run(conn: AsyncConnection, run_id: uuid.UUID) -> dict[str, Any] | None:
    """The run, its requests (oldest first, capped), its errors and its cursor."""
    run = await run_view(conn, run_id)
    if run is None:
        return None
    run["timeline"] = await run_timeline(conn, run_id, run["started_at"], TIMELINE_CAP)
    run["errors"] = await run_errors_view(conn, run_id, TIMELINE_CAP)
    run["cursor"] = await cursor_view(
        conn, run["config_id"], run["resource_path"], run["filter_hash"]
    )
    return run


async def load_request(conn: AsyncConnection, key: RequestKey) -> dict[str, Any] | None:
    """The request row with its response, validation and errors (None when it is gone)."""
    request = await request_view(conn, *key)
    if request is None:
        return None
    request["validation"] = None
    if request["response_id"] is not None:
        request["validation"] = await validation_view(conn, request["response_id"], key[1])
    request["errors"] = await request_errors_view(conn, *key)
    return request


def as_curl(request: dict[str, Any]) -> str:
    """A shell command that repeats ``request``; masked headers stay masked."""
    parts = ["curl", "-X", request["method"], shlex.quote(request["url"])]
    for name, value in sorted((request.get("headers") or {}).items()):
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    return " ".join(parts)
