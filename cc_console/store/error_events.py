"""``cc_error_event``: typed errors — of one attempt (linked to its request and response) or
of a run (interrupted, cancelled, a refused link …). One writer, which also counts the error
on its run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import ErrorKind
from .rows import fetch_dicts
from .runs import count_error

__all__ = [
    "ATTEMPT_ERROR_KIND",
    "MESSAGE_LIMIT",
    "count_errors",
    "recent_errors_view",
    "record_error_event",
    "request_errors_view",
    "run_errors_view",
    "throttles_per_minute",
]

# the column of an attempt's first error kind, for a query of the request log aliased ``q``
ATTEMPT_ERROR_KIND = (
    "(SELECT e.kind FROM cc_error_event e WHERE e.request_id = q.id"
    " AND e.request_sent_at = q.sent_at ORDER BY e.occurred_at LIMIT 1) AS error_kind"
)
MESSAGE_LIMIT = 2000
NOTICES = frozenset({ErrorKind.CURSOR_RESTARTED})  # events that tell, not errors

_INSERT = text(
    "INSERT INTO cc_error_event (kind, retryable, status_code, endpoint_path, message, detail,"
    " config_id, run_id, request_id, request_sent_at, response_id, response_sent_at)"
    " VALUES (:kind, :retryable, :status, :endpoint, :message, CAST(:detail AS jsonb), :config,"
    " :run, :req, :req_at, :resp, :resp_at)"
)


async def record_error_event(
    conn: AsyncConnection,
    *,
    kind: ErrorKind,
    message: str,
    config_id: uuid.UUID | None,
    run_id: uuid.UUID | None,
    retryable: bool = False,
    status_code: int | None = None,
    endpoint_path: str | None = None,
    request: tuple[uuid.UUID, Any] | None = None,
    response_id: uuid.UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Insert the event in the caller's transaction and count it on its run (a notice, like
    ``cursor_restarted``, is not counted as an error).

    ``request`` is the (id, sent_at) key of the attempt's request row; a response shares
    its request's ``sent_at``.
    """
    await conn.execute(
        _INSERT,
        {
            "kind": ErrorKind(kind).value,
            "retryable": retryable,
            "status": status_code,
            "endpoint": endpoint_path,
            "message": message[:MESSAGE_LIMIT],
            "detail": orjson.dumps(detail).decode() if detail else None,
            "config": config_id,
            "run": run_id,
            "req": request[0] if request else None,
            "req_at": request[1] if request else None,
            "resp": response_id,
            "resp_at": request[1] if request and response_id else None,
        },
    )
    if run_id is not None and kind not in NOTICES:
        await count_error(
            conn, run_id, throttled=kind is ErrorKind.HTTP_429, alive=request is not None
        )


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_THROTTLES = text(
    """
    SELECT config_id, endpoint_path,
           floor(extract(epoch FROM (:now - occurred_at)) / 60)::int AS minutes_ago,
           count(*) AS n
    FROM cc_error_event
    WHERE kind = 'http_429' AND occurred_at > :now - make_interval(mins => :window)
    GROUP BY 1, 2, 3
    """
)

_RECENT_VIEW = text(
    """
    SELECT e.id, e.occurred_at, e.kind, e.retryable, e.status_code, e.endpoint_path, e.run_id,
           e.message, e.request_id, e.request_sent_at, e.config_id
    FROM cc_error_event e ORDER BY e.occurred_at DESC, e.id DESC LIMIT :limit
    """
)

_RUN_ERRORS = text(
    """
    SELECT id, occurred_at, kind, retryable, status_code, endpoint_path, message
    FROM cc_error_event WHERE run_id = :id ORDER BY occurred_at, id LIMIT :limit
    """
)

_REQUEST_ERRORS = text(
    """
    SELECT occurred_at, kind, retryable, status_code, message
    FROM cc_error_event WHERE request_id = :id AND request_sent_at = :sent ORDER BY occurred_at
    """
)


async def throttles_per_minute(
    conn: AsyncConnection, now: datetime, window_minutes: int
) -> list[dict[str, Any]]:
    """429 events per config, endpoint and minute ago over the last ``window_minutes``."""
    return await fetch_dicts(conn, _THROTTLES, now=now, window=window_minutes)


async def recent_errors_view(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """The newest error events, newest first."""
    return await fetch_dicts(conn, _RECENT_VIEW, limit=limit)


async def count_errors(conn: AsyncConnection, cap: int) -> int:
    """How many error events there are, counted up to ``cap + 1``."""
    n = (
        await conn.execute(
            text("SELECT count(*) FROM (SELECT 1 FROM cc_error_event LIMIT :cap) AS capped"),
            {"cap": cap + 1},
        )
    ).scalar_one()
    return int(n)


async def run_errors_view(
    conn: AsyncConnection, run_id: uuid.UUID, limit: int
) -> list[dict[str, Any]]:
    """A run's error events, oldest first."""
    return await fetch_dicts(conn, _RUN_ERRORS, id=run_id, limit=limit)


async def request_errors_view(
    conn: AsyncConnection, request_id: uuid.UUID, sent_at: datetime
) -> list[dict[str, Any]]:
    """The error events of one request, oldest first."""
    return await fetch_dicts(conn, _REQUEST_ERRORS, id=request_id, sent=sent_at)
