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

from ..odata.keys import Key
from ..odata.resources import Validation
from .audit_log import RequestRef, ResponseFields, insert_response
from .cursors import ADVANCE, Lease, LostCursor
from .events import CHANNEL
from .runs import PAGE_COUNTERS
from .silver import SilverBatch, UpsertCounts, record_seen_keys, upsert_page_records
from .validations import RECORD, record_params

__all__ = ["CursorAdvance", "Landed", "PageLanding", "land_page"]


@dataclass(frozen=True)
class CursorAdvance:
    """Where the cursor stands after this page, moved under the run's lease."""

    lease: Lease
    next_skip: int
    next_link: str | None
    status: str
    keyset: dict[str, object] | None = None  # keyset paging: the position after this page
    watermark: dict[str, object] | None = None  # the position, when this page completed


@dataclass(frozen=True)
class PageLanding:
    """Everything one page writes."""

    config_id: uuid.UUID
    run_id: uuid.UUID
    request: RequestRef
    response: ResponseFields
    silver_path: str
    record_key: Key
    items_key: str | None
    records: int
    batch: SilverBatch  # the records' hashes and validity, and how many had a key
    validation: Validation | None
    cursor: CursorAdvance
    odata_count: int | None
    waited_s: float
    requests: int = 0  # attempts since the last landing (the request rows are already in)
    retries: int = 0
    seen_chain: uuid.UUID | None = None  # detecting deletions: the chain's seen-key set


_BOOKKEEPING = text(
    f"""
    WITH {RECORD}, {ADVANCE}, {PAGE_COUNTERS}
    SELECT pg_notify(:channel, :payload), (SELECT cancel_requested_at FROM run)
        AS cancel_requested_at, (SELECT count(*) FROM cursor_advance) AS advanced
    """
)


@dataclass(frozen=True)
class Landed:
    """What a page's landing counted: landed = inserted + updated + unchanged; rejected had no
    key; and whether someone asked the run to stop."""

    inserted: int
    updated: int
    unchanged: int
    rejected: int
    cancel_requested: bool

    @property
    def landed(self) -> int:
        return self.inserted + self.updated + self.unchanged


async def land_page(conn: AsyncConnection, page: PageLanding) -> Landed:
    """Write one page in the caller's transaction; its counts go to the run and the cursor.
    ``LostCursor`` when the run's lease no longer holds: the caller's transaction must roll
    back (nothing of the page may stay)."""
    response_id = await insert_response(conn, page.request, page.response)
    upserted = UpsertCounts(0, 0)
    if page.batch.keyed:
        upserted = await upsert_page_records(
            conn,
            config_id=page.config_id,
            response=(response_id, page.request.sent_at),
            silver_path=page.silver_path,
            record_key=page.record_key,
            items_key=page.items_key,
            batch=page.batch,
            run_id=page.run_id,
        )
    unchanged = page.batch.keyed - upserted.inserted - upserted.updated
    if page.seen_chain is not None and page.batch.keyed:
        await record_seen_keys(
            conn,
            chain_run_id=page.seen_chain,
            response=(response_id, page.request.sent_at),
            record_key=page.record_key,
            items_key=page.items_key,
            batch=page.batch,
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
                "keyset": None if c.keyset is None else orjson.dumps(c.keyset).decode(),
                "watermark": None if c.watermark is None else orjson.dumps(c.watermark).decode(),
                "n": page.records,
                "landed": page.batch.keyed,
                "inserted": upserted.inserted,
                "updated": upserted.updated,
                "unchanged": unchanged,
                "rejected": page.batch.rejected,
                "count": page.odata_count,
                "status": c.status,
                **c.lease.params(),
                "lease_s": c.lease.seconds,
                "waited": page.waited_s,
                "requests": page.requests,
                "retries": page.retries,
                "channel": CHANNEL,
                "payload": orjson.dumps(payload).decode(),
            },
        )
    ).one()
    if not row.advanced:
        raise LostCursor()
    return Landed(
        upserted.inserted,
        upserted.updated,
        unchanged,
        page.batch.rejected,
        row.cancel_requested_at is not None,
    )
