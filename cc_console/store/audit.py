"""Writing the Bronze audit trail: request rows before sending, failures with their errors.

Every function here opens and commits its own short transaction on an async engine; the
engine's page landing (one transaction for a whole page) lives in ``landing.py``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["RequestRef", "ResponseFields", "insert_response", "write_failure", "write_request"]


@dataclass(frozen=True)
class RequestRef:
    """The key of a request-log row (partitioned: id + sent_at)."""

    id: uuid.UUID
    sent_at: datetime


@dataclass
class ResponseFields:
    """What is stored of one HTTP response."""

    status_code: int
    headers: dict[str, Any]
    body: bytes
    content_type: str | None
    elapsed_ms: float
    parse_ok: bool = False
    odata_count: int | None = None
    has_next_link: bool = False
    validation_errors: Any = None
    is_json: bool | None = None  # known already (the engine parsed it); None: check here


async def write_request(
    engine: AsyncEngine,
    *,
    config_id: uuid.UUID,
    run_id: uuid.UUID | None,
    template_id: uuid.UUID | None,
    method: str,
    url: str,
    endpoint_path: str,
    query_params: dict[str, Any],
    headers: dict[str, Any],
    attempt_no: int,
    key_fingerprint: str | None,
) -> RequestRef:
    """Insert and commit the request row; the caller sends only after this returns.

    One statement, no lock on the run row: the run's request and retry counters are added
    when a page lands (or when the run ends), so a prefetch never waits for a landing.
    """
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "INSERT INTO cc_api_request_log (sent_at, config_id, run_id, template_id, method,"
                    " url, endpoint_path, query_params, headers, body_size, attempt_no,"
                    " key_fingerprint) VALUES (clock_timestamp(), :config, :run, :template, :method,"
                    " :url, :endpoint, CAST(:params AS jsonb), CAST(:headers AS jsonb), 0, :attempt,"
                    " :fingerprint) RETURNING id, sent_at"
                ),
                {
                    "config": config_id,
                    "run": run_id,
                    "template": template_id,
                    "method": method,
                    "url": url,
                    "endpoint": endpoint_path,
                    "params": orjson.dumps(query_params).decode(),
                    "headers": orjson.dumps(headers).decode(),
                    "attempt": attempt_no,
                    "fingerprint": key_fingerprint,
                },
            )
        ).one()
    return RequestRef(row.id, row.sent_at)


def _body_columns(response: ResponseFields) -> tuple[str | None, str | None]:
    """(JSON text for the JSONB column, raw text) — a body is never dropped."""
    if not response.body:
        return None, None
    text_body = response.body.decode("utf-8", errors="replace")
    is_json = response.is_json
    if is_json is None:
        try:
            orjson.loads(response.body)
            is_json = True
        except orjson.JSONDecodeError:
            is_json = False
    return (text_body, None) if is_json else (None, text_body)


async def insert_response(
    conn: AsyncConnection, request: RequestRef, response: ResponseFields
) -> uuid.UUID:
    """Insert the response row of ``request`` inside the caller's transaction."""
    body_json, body_text = _body_columns(response)
    return (
        await conn.execute(
            text(
                "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code,"
                " headers, content_type, body, body_text, size_bytes, elapsed_ms, parse_ok,"
                " validation_errors, odata_count, has_next_link) VALUES (:sent_at, :request,"
                " GREATEST(clock_timestamp(), :sent_at), :status, CAST(:headers AS jsonb),"
                " :ctype, CAST(:body AS jsonb), :body_text, :size, :elapsed, :parse_ok,"
                " CAST(:verrors AS jsonb), :count, :next) RETURNING id"
            ),
            {
                "sent_at": request.sent_at,
                "request": request.id,
                "status": response.status_code,
                "headers": orjson.dumps(response.headers).decode(),
                "ctype": response.content_type,
                "body": body_json,
                "body_text": body_text,
                "size": len(response.body),
                "elapsed": response.elapsed_ms,
                "parse_ok": response.parse_ok,
                "verrors": orjson.dumps(response.validation_errors).decode()
                if response.validation_errors is not None
                else None,
                "count": response.odata_count,
                "next": response.has_next_link,
            },
        )
    ).scalar_one()


async def write_failure(
    engine: AsyncEngine,
    *,
    request: RequestRef | None,
    response: ResponseFields | None,
    kind: str,
    retryable: bool,
    message: str,
    status_code: int | None,
    endpoint_path: str | None,
    config_id: uuid.UUID | None,
    run_id: uuid.UUID | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a failed attempt: its response (if any) and a typed error event, atomically."""
    async with engine.begin() as conn:
        response_id = (
            await insert_response(conn, request, response)
            if response is not None and request is not None
            else None
        )
        await conn.execute(
            text(
                "INSERT INTO cc_error_event (kind, retryable, status_code, endpoint_path,"
                " message, detail, config_id, run_id, request_id, request_sent_at, response_id,"
                " response_sent_at) VALUES (:kind, :retryable, :status, :endpoint, :message,"
                " CAST(:detail AS jsonb), :config, :run, :req, :req_at, :resp, :resp_at)"
            ),
            {
                "kind": kind,
                "retryable": retryable,
                "status": status_code,
                "endpoint": endpoint_path,
                "message": message[:2000],
                "detail": orjson.dumps(detail).decode() if detail else None,
                "config": config_id,
                "run": run_id,
                "req": request.id if request else None,
                "req_at": request.sent_at if request else None,
                "resp": response_id,
                "resp_at": request.sent_at if response_id else None,
            },
        )
        if run_id is not None:
            await conn.execute(
                text(
                    "UPDATE cc_sync_run SET error_count = error_count + 1,"
                    " http_429_count = http_429_count + CAST(:is429 AS integer),"
                    " heartbeat_at = clock_timestamp() WHERE id = :run"
                ),
                {"run": run_id, "is429": 1 if kind == "http_429" else 0},
            )
