"""Landing one page atomically: response, Silver upserts, validation, cursor, run counters.

The homes of those tables hold their own SQL; this module composes them into the page's
transaction — three statements: the response row, the Silver upsert (read out of that row),
and one statement whose CTEs write the validation row, advance the cursor, count the page on
its run and send the live event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..odata.resources import Validation
from .audit_log import RequestRef, ResponseFields, insert_response
from .cursors import ADVANCE
from .events import CHANNEL
from .runs import PAGE_COUNTERS
from .silver import upsert_page_records
from .validations import RECORD, record_params

__all__ = ["CursorAdvance", "PageLanding", "land_page"]


@dataclass(frozen=True)
class CursorAdvance:
    """Where the cursor stands after this page."""

    cursor_id: uuid.UUID
    next_skip: int
    next_link: str | None
    status: str


@dataclass(frozen=True)
class PageLanding:
    """Everything one page writes."""

    run_id: uuid.UUID
    request: RequestRef
    response: ResponseFields
    silver_path: str
    record_key: str
    items_key: str | None
    records: int
    hashes: str  # per record position, comma-separated: payload hash, empty to skip it
    valid: str  # per record position: "1" valid, "0" not
    validation: Validation | None
    cursor: CursorAdvance
    odata_count: int | None
    waited_s: float
    requests: int = 0  # attempts since the last landing (the request rows are already in)
    retries: int = 0


_BOOKKEEPING = text(
    f"""
    WITH {RECORD}, {ADVANCE}, {PAGE_COUNTERS}
    SELECT pg_notify(:channel, :payload), (SELECT cancel_requested_at FROM run)
        AS cancel_requested_at
    """
)


async def land_page(conn: AsyncConnection, page: PageLanding) -> tuple[int, bool]:
    """Write one page in the caller's transaction.

    Returns the Silver rows inserted or changed, and whether a cancel of the run was requested.
    """
    response_id = await insert_response(conn, page.request, page.response)
    changed = 0
    if page.records:
        changed = await upsert_page_records(
            conn,
            response=(response_id, page.request.sent_at),
            silver_path=page.silver_path,
            record_key=page.record_key,
            items_key=page.items_key,
            hashes=page.hashes,
            valid=page.valid,
            run_id=page.run_id,
        )
    c = page.cursor
    payload = {
        "kind": "page",
        "run_id": str(page.run_id),
        "response_id": str(response_id),
        "records": page.records,
    }
    row = (
        await conn.execute(
            _BOOKKEEPING,
            {
                **record_params(page.validation),
                "rid": response_id,
                "sent": page.request.sent_at,
                "run": page.run_id,
                "path": page.silver_path,
                "skip": c.next_skip,
                "link": c.next_link,
                "n": page.records,
                "count": page.odata_count,
                "status": c.status,
                "cursor": c.cursor_id,
                "waited": page.waited_s,
                "requests": page.requests,
                "retries": page.retries,
                "channel": CHANNEL,
                "payload": orjson.dumps(payload).decode(),
            },
        )
    ).one()
    return changed, row.cancel_requested_at is not None
