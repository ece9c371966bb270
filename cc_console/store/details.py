"""Drill-down reads for the console: one run with its timeline, one request with its response.

Headers in the log are masked before they were stored, so what is read here is safe to show;
``as_curl`` rebuilds a request for a terminal without ever having had the key.
"""

from __future__ import annotations

import shlex
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["RequestKey", "as_curl", "fetch_dicts", "load_request", "load_run"]

RequestKey = tuple[uuid.UUID, datetime]
TIMELINE_CAP = 2000

_RUN = text(
    """
    SELECT r.*, COALESCE(t.name, r.resource_path) AS template, c.name AS config
    FROM cc_sync_run r
    JOIN cc_api_client_config c ON c.id = r.config_id
    LEFT JOIN cc_odata_query_template t ON t.id = r.template_id
    WHERE r.id = :id
    """
)

_TIMELINE = text(
    """
    SELECT q.id, q.sent_at, q.method, q.endpoint_path, q.url, q.attempt_no,
           s.status_code, s.elapsed_ms, s.size_bytes, s.parse_ok, s.received_at,
           (SELECT string_agg(e.kind, ',') FROM cc_error_event e
             WHERE e.request_id = q.id AND e.request_sent_at = q.sent_at) AS error_kinds
    FROM cc_api_request_log q LEFT JOIN cc_api_response_log s
      ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.run_id = :id AND q.sent_at >= :since
    ORDER BY q.sent_at, q.id LIMIT :limit
    """
)

_RUN_ERRORS = text(
    """
    SELECT id, occurred_at, kind, retryable, status_code, endpoint_path, message
    FROM cc_error_event WHERE run_id = :id ORDER BY occurred_at, id LIMIT :limit
    """
)

_RUN_CURSOR = text(
    """
    SELECT next_skip, next_link, odata_count, records_landed, status, last_sync_at, last_run_id
    FROM cc_pagination_state
    WHERE config_id = :config AND resource_path = :path AND filter_hash = :fh
    """
)

_REQUEST = text(
    """
    SELECT q.*, s.id AS response_id, s.status_code, s.headers AS response_headers,
           s.content_type, s.body AS response_body, s.body_text AS response_text,
           s.size_bytes, s.elapsed_ms, s.received_at, s.parse_ok, s.validation_errors,
           s.odata_count, s.has_next_link
    FROM cc_api_request_log q LEFT JOIN cc_api_response_log s
      ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.id = :id AND q.sent_at = :sent
    """
)

_VALIDATION = text(
    """
    SELECT schema_name, schema_version, ok, records_checked, records_invalid, errors_sample,
           drift, shape_fingerprint, checked_at
    FROM cc_schema_validation WHERE response_id = :rid AND response_sent_at = :sent
    """
)

_REQUEST_ERRORS = text(
    """
    SELECT occurred_at, kind, retryable, status_code, message
    FROM cc_error_event WHERE request_id = :id AND request_sent_at = :sent ORDER BY occurred_at
    """
)


async def fetch_dicts(conn: AsyncConnection, sql: Any, **params: Any) -> list[dict[str, Any]]:
    """The rows of ``sql`` as plain dicts."""
    return [dict(r) for r in (await conn.execute(sql, params)).mappings()]


async def load_run(conn: AsyncConnection, run_id: uuid.UUID) -> dict[str, Any] | None:
    """The run, its requests (oldest first, capped), its errors and its cursor."""
    found = await fetch_dicts(conn, _RUN, id=run_id)
    if not found:
        return None
    run = found[0]
    run["timeline"] = await fetch_dicts(
        conn, _TIMELINE, id=run_id, since=run["started_at"], limit=TIMELINE_CAP
    )
    run["errors"] = await fetch_dicts(conn, _RUN_ERRORS, id=run_id, limit=TIMELINE_CAP)
    cursor = await fetch_dicts(
        conn, _RUN_CURSOR, config=run["config_id"], path=run["resource_path"], fh=run["filter_hash"]
    )
    run["cursor"] = cursor[0] if cursor else None
    return run


async def load_request(conn: AsyncConnection, key: RequestKey) -> dict[str, Any] | None:
    """The request row with its response, validation and errors (None when it is gone)."""
    found = await fetch_dicts(conn, _REQUEST, id=key[0], sent=key[1])
    if not found:
        return None
    request = found[0]
    request["validation"] = None
    if request["response_id"] is not None:
        validation = await fetch_dicts(conn, _VALIDATION, rid=request["response_id"], sent=key[1])
        request["validation"] = validation[0] if validation else None
    request["errors"] = await fetch_dicts(conn, _REQUEST_ERRORS, id=key[0], sent=key[1])
    return request


def as_curl(request: dict[str, Any]) -> str:
    """A shell command that repeats ``request``; masked headers stay masked."""
    parts = ["curl", "-X", request["method"], shlex.quote(request["url"])]
    for name, value in sorted((request.get("headers") or {}).items()):
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    return " ".join(parts)
