"""Landing one page atomically: response, Silver upserts, validation, cursor, run counters.

Silver rows are read straight out of the response row just written (``jsonb_array_elements``
over its body), so a page's bytes cross the wire to PostgreSQL once.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .audit import RequestRef, ResponseFields, insert_response
from .events import CHANNEL

__all__ = ["CursorAdvance", "PageLanding", "land_page", "silver_rows"]


@dataclass
class CursorAdvance:
    """Where the cursor stands after this page."""

    cursor_id: uuid.UUID
    next_skip: int
    next_link: str | None
    status: str


@dataclass
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
    validation: dict[str, Any] | None
    cursor: CursorAdvance
    odata_count: int | None
    waited_s: float
    requests: int = 0  # attempts since the last landing (the request rows are already in)
    retries: int = 0


_SILVER = text(
    """
    INSERT INTO cc_silver_record AS s (resource_path, record_key, payload, payload_hash,
        first_run_id, last_run_id, last_response_id, last_response_sent_at, valid,
        first_seen_at, last_seen_at)
    SELECT :path, x.e ->> :key, x.e, h.hash, :run, :run, r.id, r.sent_at, h.ok = '1',
        now(), now()
    FROM cc_api_response_log r
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN CAST(:items AS text) IS NULL THEN r.body
             ELSE r.body -> CAST(:items AS text) END) WITH ORDINALITY AS x(e, n)
    JOIN ROWS FROM (unnest(string_to_array(CAST(:hashes AS text), ',')),
                    unnest(string_to_array(CAST(:valid AS text), NULL)))
         WITH ORDINALITY AS h(hash, ok, n) ON h.n = x.n
    WHERE r.id = :rid AND r.sent_at = :sent AND h.hash <> ''
    ON CONFLICT (resource_path, record_key) DO UPDATE SET
        payload = EXCLUDED.payload, payload_hash = EXCLUDED.payload_hash,
        last_run_id = EXCLUDED.last_run_id, last_response_id = EXCLUDED.last_response_id,
        last_response_sent_at = EXCLUDED.last_response_sent_at, valid = EXCLUDED.valid,
        last_seen_at = now()
    WHERE s.payload_hash IS DISTINCT FROM EXCLUDED.payload_hash
       OR s.valid IS DISTINCT FROM EXCLUDED.valid
    """
)


# validation row, cursor advance, run counters and the live event in one round trip
_BOOKKEEPING = text(
    """
    WITH validation AS (
        INSERT INTO cc_schema_validation (response_id, response_sent_at, run_id, resource_path,
            schema_name, schema_version, ok, records_checked, records_invalid, errors_sample,
            drift, shape_fingerprint)
        SELECT :rid, :sent, :run, :path, :name, :version, :ok, :checked, :invalid,
            CAST(:errors AS jsonb), CAST(:drift AS jsonb), :fingerprint
        WHERE CAST(:validate AS boolean)
    ), cursor_advance AS (
        UPDATE cc_pagination_state SET next_skip = :skip, next_link = CAST(:link AS text),
            records_landed = records_landed + :n,
            odata_count = COALESCE(CAST(:count AS bigint), odata_count), last_sync_at = now(),
            status = :status, last_run_id = :run, updated_at = now()
        WHERE id = :cursor
    ), run AS (
        UPDATE cc_sync_run SET pages = pages + 1, records = records + :n,
            requests = requests + :requests, retries = retries + :retries,
            odata_count = COALESCE(CAST(:count AS bigint), odata_count),
            wait_s = wait_s + :waited, heartbeat_at = clock_timestamp()
        WHERE id = :run RETURNING cancel_requested_at
    )
    SELECT pg_notify(:channel, :payload), (SELECT cancel_requested_at FROM run)
        AS cancel_requested_at
    """
)


def silver_rows(records: list[dict[str, Any]], key: str, invalid_keys: set[str]) -> tuple[str, str]:
    """Per record position: payload hashes (comma-separated, empty to skip) and validity flags.

    A record without a key is skipped; when a key repeats within a page, its last copy wins
    (one upsert may not touch a row twice). Both travel as plain strings: psycopg's array
    dumper cost 8 ms per 1000-element page.
    """
    hashes: list[str] = []
    valid: list[str] = []
    last_position: dict[str, int] = {}
    sha256 = hashlib.sha256
    dumps = orjson.dumps
    for position, record in enumerate(records):
        ident = record.get(key)
        if ident is None or isinstance(ident, (dict, list)):
            hashes.append("")
            valid.append("0")
            continue
        text_key = str(ident).lower() if isinstance(ident, bool) else str(ident)
        if text_key in last_position:
            hashes[last_position[text_key]] = ""
        last_position[text_key] = position
        hashes.append(sha256(dumps(record)).hexdigest())
        valid.append("0" if text_key in invalid_keys else "1")
    return ",".join(hashes), "".join(valid)


async def land_page(conn: AsyncConnection, page: PageLanding) -> tuple[int, bool]:
    """Write one page in the caller's transaction.

    Returns the Silver rows inserted or changed, and whether a cancel of the run was requested.
    """
    response_id = await insert_response(conn, page.request, page.response)
    changed = 0
    if page.records:
        result = await conn.execute(
            _SILVER,
            {
                "key": page.record_key,
                "path": page.silver_path,
                "run": page.run_id,
                "hashes": page.hashes,
                "valid": page.valid,
                "items": page.items_key,
                "rid": response_id,
                "sent": page.request.sent_at,
            },
        )
        changed = result.rowcount
    v = page.validation or {}
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
                "validate": page.validation is not None,
                "rid": response_id,
                "sent": page.request.sent_at,
                "run": page.run_id,
                "path": page.silver_path,
                "name": v.get("schema_name"),
                "version": v.get("schema_version"),
                "ok": v.get("ok", True),
                "checked": v.get("checked", 0),
                "invalid": v.get("invalid", 0),
                "errors": orjson.dumps(v.get("errors_sample")).decode(),
                "drift": orjson.dumps(v["drift"]).decode() if v.get("drift") else None,
                "fingerprint": v.get("fingerprint"),
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
