"""``cc_api_request_log`` and ``cc_api_response_log``: the Bronze audit trail.

A request row is written and committed before its bytes go out; a response row is written
with its page's landing (``landing.py``) or, for a failed attempt, with its error event
(``write_failure``). Both tables are partitioned by month on the request's ``sent_at``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import ErrorKind
from . import audit_chain
from .cursors import FENCE, Lease, LostCursor
from .error_events import ATTEMPT_ERROR_KIND, record_error_event
from .rows import fetch_dicts

__all__ = [
    "LoggedAttempt",
    "RequestRef",
    "ResponseFields",
    "attempts_of_run",
    "count_requests_since",
    "insert_response",
    "keep_response",
    "recent_requests_view",
    "request_view",
    "run_timeline",
    "write_failure",
    "write_request",
    "write_response",
]


@dataclass(frozen=True)
class RequestRef:
    """The key of a request-log row (partitioned: id + sent_at), and the chain its response
    joins (its run's, or a batch's)."""

    id: uuid.UUID
    sent_at: datetime
    chain_id: uuid.UUID | None = None
    config_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None


@dataclass(frozen=True)
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
    # a page: its decoded body's digest (``canonical_body.canonical_body_digest``)
    body_digest: bytes | None = None


_APPEND_REQUEST = text(audit_chain.append_request_sql(None))
_APPEND_REQUEST_FENCED = text(audit_chain.append_request_sql(FENCE))
_APPEND_RESPONSE = text(audit_chain.append_response_sql(canonical_body=False))
_APPEND_CANONICAL_RESPONSE = text(audit_chain.append_response_sql(canonical_body=True))


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
    fence: Lease | None = None,
) -> RequestRef:
    """Insert and commit the request row; the caller sends only after this returns.

    One statement, no lock on the run row: the run's request and retry counters are added
    when a page lands (or when the run ends), so a prefetch never waits for a landing. The
    statement links the row into its run's request chain (``audit_chain.py``: it locks that
    chain's head, not the response chain a landing holds). With a ``fence`` the row is
    written only while the run's lease holds — else ``LostCursor``, and nothing is sent;
    also when the run's chain was sealed (the run was ended without this engine).
    """
    params = {
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
        **(fence.params() if fence is not None else {}),
    }
    if not audit_chain.enabled:
        return await _write_unchained_request(engine, params, fence)
    append = _APPEND_REQUEST_FENCED if fence is not None else _APPEND_REQUEST
    for _ in range(2):  # a batch chain sealed under us (by a sweep): once more in a new one
        chain = run_id if run_id is not None else audit_chain.batch_chain(config_id)
        async with engine.begin() as conn:
            row = (await conn.execute(append, {**params, "chain": chain})).one_or_none()
        if row is not None:
            return RequestRef(row.id, row.sent_at, chain, config_id, run_id)
        if run_id is not None:
            break
        audit_chain.forget_batch(config_id, chain)
    raise LostCursor()


async def _write_unchained_request(
    engine: AsyncEngine, params: dict[str, Any], fence: Lease | None
) -> RequestRef:
    values = (
        "clock_timestamp(), :config, :run, :template, :method, :url, :endpoint,"
        " CAST(:params AS jsonb), CAST(:headers AS jsonb), 0, :attempt, :fingerprint"
    )
    source = f"SELECT {values} WHERE {FENCE}" if fence is not None else f"VALUES ({values})"
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "INSERT INTO cc_api_request_log (sent_at, config_id, run_id, template_id, method,"
                    " url, endpoint_path, query_params, headers, body_size, attempt_no,"
                    f" key_fingerprint) {source} RETURNING id, sent_at"
                ),
                params,
            )
        ).one_or_none()
    if row is None:
        raise LostCursor()
    return RequestRef(row.id, row.sent_at)


async def response_exists(conn: AsyncConnection, request: RequestRef) -> bool:
    """Whether the request's response row is in (a landing whose COMMIT outcome was lost)."""
    found = (
        await conn.execute(
            text("SELECT 1 FROM cc_api_response_log WHERE request_id = :id AND sent_at = :sent"),
            {"id": request.id, "sent": request.sent_at},
        )
    ).first()
    return found is not None


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
    params = {
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
    }
    if request.chain_id is None:  # chaining was off when its request was written
        return await _insert_unchained_response(conn, params)
    chained = {
        **params,
        "chain": request.chain_id,
        "config": request.config_id,
        "run": request.run_id,
    }
    if response.body_digest is not None and body_json is not None:
        append = _APPEND_CANONICAL_RESPONSE
        chained["body_digest"] = response.body_digest
    else:
        append = _APPEND_RESPONSE
    found = (await conn.execute(append, chained)).scalar_one_or_none()
    if found is None:
        raise LostCursor()  # the chain is sealed: the run was ended without this engine
    response_id: uuid.UUID = found
    return response_id


async def _insert_unchained_response(conn: AsyncConnection, params: dict[str, Any]) -> uuid.UUID:
    response_id: uuid.UUID = (
        await conn.execute(
            text(
                "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code,"
                " headers, content_type, body, body_text, size_bytes, elapsed_ms, parse_ok,"
                " validation_errors, odata_count, has_next_link) VALUES (:sent_at, :request,"
                " GREATEST(clock_timestamp(), :sent_at), :status, CAST(:headers AS jsonb),"
                " :ctype, CAST(:body AS jsonb), :body_text, :size, :elapsed, :parse_ok,"
                " CAST(:verrors AS jsonb), :count, :next) RETURNING id"
            ),
            params,
        )
    ).scalar_one()
    return response_id


async def keep_response(
    conn: AsyncConnection, request: RequestRef, response: ResponseFields
) -> uuid.UUID:
    """Insert a response that must not be lost though its run's chain may be sealed already
    (a page whose run was ended under it): then it joins its config's batch chain."""
    try:
        return await insert_response(conn, request, response)
    except LostCursor:
        if request.config_id is None:
            raise
        batch = audit_chain.batch_chain(request.config_id)
        return await insert_response(conn, replace(request, chain_id=batch, run_id=None), response)


async def write_response(
    engine: AsyncEngine, request: RequestRef, response: ResponseFields
) -> None:
    """Record an answer that is neither a page nor a failure (a redirect hop), committed."""
    async with engine.begin() as conn:
        await insert_response(conn, request, response)


async def write_failure(
    engine: AsyncEngine,
    *,
    request: RequestRef,
    response: ResponseFields | None,
    kind: ErrorKind,
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
            await insert_response(conn, request, response) if response is not None else None
        )
        await record_error_event(
            conn,
            kind=kind,
            message=message,
            config_id=config_id,
            run_id=run_id,
            retryable=retryable,
            status_code=status_code,
            endpoint_path=endpoint_path,
            request=(request.id, request.sent_at),
            response_id=response_id,
            detail=detail,
        )


@dataclass(frozen=True)
class LoggedAttempt:
    """One attempt as the audit trail holds it, with its response if there is one.

    ``final``: nothing more will be written about it — it has a response, or an error event
    that says why not (timeout, reset …). An attempt that is not final is in flight, or was
    cut off when its run stopped.
    """

    id: uuid.UUID
    sent_at: datetime
    method: str
    url: str
    headers: dict[str, Any]
    status_code: int | None
    response_headers: dict[str, Any] | None
    body: str | None
    elapsed_ms: float | None
    final: bool


_ATTEMPTS = text(
    """
    SELECT q.id, q.sent_at, q.method, q.url, q.headers, s.status_code,
           s.headers AS response_headers, COALESCE(s.body::text, s.body_text) AS body,
           s.elapsed_ms,
           s.id IS NOT NULL OR EXISTS (
               SELECT 1 FROM cc_error_event e WHERE e.run_id = q.run_id
                 AND e.request_id = q.id AND e.request_sent_at = q.sent_at) AS final
    FROM cc_api_request_log q
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.run_id = :run AND q.sent_at >= :since AND (q.sent_at, q.id) > (:after_at, :after_id)
    ORDER BY q.sent_at, q.id LIMIT :limit
    """
)


async def attempts_of_run(
    conn: AsyncConnection,
    run_id: uuid.UUID,
    *,
    since: datetime,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int = 500,
) -> list[LoggedAttempt]:
    """The run's attempts in the order they were sent, after the ``after`` key (sent_at, id);
    ``since`` is the run's start (it prunes the monthly partitions)."""
    after_at, after_id = after or (since, uuid.UUID(int=0))
    rows = await conn.execute(
        _ATTEMPTS,
        {
            "run": run_id,
            "since": since,
            "after_at": after_at,
            "after_id": after_id,
            "limit": limit,
        },
    )
    return [LoggedAttempt(**row._mapping) for row in rows]


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_RECENT_VIEW = text(
    f"""
    SELECT q.id, q.sent_at, q.method, q.endpoint_path, q.url, q.attempt_no, q.run_id,
           s.status_code, s.elapsed_ms, s.size_bytes, s.parse_ok, {ATTEMPT_ERROR_KIND}
    FROM cc_api_request_log q LEFT JOIN cc_api_response_log s
      ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.sent_at >= :since
    ORDER BY q.sent_at DESC, q.id DESC LIMIT :limit
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

_REQUEST_VIEW = text(
    """
    SELECT q.*, s.id AS response_id, s.status_code, s.headers AS response_headers,
           s.content_type, s.body AS response_body, s.body_text AS response_text,
           s.size_bytes, s.elapsed_ms, s.received_at, s.parse_ok, s.validation_errors,
           s.odata_count, s.has_next_link,
           c.auth_header, c.auth_scheme, c.secret_ref
    FROM cc_api_request_log q LEFT JOIN cc_api_response_log s
      ON s.request_id = q.id AND s.sent_at = q.sent_at
    LEFT JOIN cc_api_client_config c ON c.id = q.config_id
    WHERE q.id = :id AND q.sent_at = :sent
    """
)


async def recent_requests_view(
    conn: AsyncConnection, since: datetime, limit: int
) -> list[dict[str, Any]]:
    """Requests sent since ``since`` with their response's status, newest first."""
    return await fetch_dicts(conn, _RECENT_VIEW, since=since, limit=limit)


_RATES = text(
    "SELECT config_id, endpoint_path, count(*) AS n FROM cc_api_request_log"
    " WHERE sent_at > CAST(:now AS timestamptz) - make_interval(secs => :window)"
    " GROUP BY 1, 2"
)


async def requests_per_endpoint(
    conn: AsyncConnection, now: datetime, window_s: float
) -> list[dict[str, Any]]:
    """Requests sent per config and endpoint in the ``window_s`` seconds before ``now``."""
    return await fetch_dicts(conn, _RATES, now=now, window=window_s)


async def count_requests_since(conn: AsyncConnection, since: datetime, cap: int) -> int:
    """How many requests were sent since ``since``, counted up to ``cap + 1``."""
    n = (
        await conn.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM cc_api_request_log WHERE sent_at >= :since"
                " LIMIT :cap) AS capped"
            ),
            {"since": since, "cap": cap + 1},
        )
    ).scalar_one()
    return int(n)


async def run_timeline(
    conn: AsyncConnection, run_id: uuid.UUID, since: datetime, limit: int
) -> list[dict[str, Any]]:
    """A run's attempts, oldest first, with response status and error kinds."""
    return await fetch_dicts(conn, _TIMELINE, id=run_id, since=since, limit=limit)


async def request_view(
    conn: AsyncConnection, request_id: uuid.UUID, sent_at: datetime
) -> dict[str, Any] | None:
    """One request with its response's columns (``response_*``), or None."""
    found = await fetch_dicts(conn, _REQUEST_VIEW, id=request_id, sent=sent_at)
    return found[0] if found else None
