"""``cc_silver_record``: the deduplicated records of each tenant, one row per (config,
resource, key), with lineage.

A page's records are upserted straight out of its response row (``jsonb_array_elements``
over the stored body), so a page's bytes cross the wire to PostgreSQL once; a record whose
payload hash did not change is not written again.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..odata.keys import Key, key_text

__all__ = [
    "SilverBatch",
    "UpsertCounts",
    "record_seen_keys",
    "silver_rows",
    "upsert_page_records",
]

# the records of one stored page (x.e), with their hash and validity (h), keyed ones only
_PAGE_RECORDS = """
    FROM cc_api_response_log r
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN CAST(:items AS text) IS NULL THEN r.body
             ELSE r.body -> CAST(:items AS text) END) WITH ORDINALITY AS x(e, n)
    JOIN ROWS FROM (unnest(string_to_array(CAST(:hashes AS text), ',')),
                    unnest(string_to_array(CAST(:valid AS text), NULL)))
         WITH ORDINALITY AS h(hash, ok, n) ON h.n = x.n
    WHERE r.id = :rid AND r.sent_at = :sent AND h.hash <> ''
"""

_UPSERT = """
    WITH upserted AS (
        INSERT INTO cc_silver_record AS s (config_id, resource_path, record_key, payload,
            payload_hash, first_run_id, last_run_id, last_response_id, last_response_sent_at,
            valid, first_seen_at, last_seen_at)
        SELECT :config, :path, {key}, x.e, h.hash, :run, :run, r.id, r.sent_at, h.ok = '1',
            now(), now()
        {page_records}
        ON CONFLICT (config_id, resource_path, record_key) DO UPDATE SET
            payload = EXCLUDED.payload, payload_hash = EXCLUDED.payload_hash,
            last_run_id = EXCLUDED.last_run_id, last_response_id = EXCLUDED.last_response_id,
            last_response_sent_at = EXCLUDED.last_response_sent_at, valid = EXCLUDED.valid,
            last_seen_at = now(), deleted_at = NULL, deleted_run_id = NULL
        WHERE s.payload_hash IS DISTINCT FROM EXCLUDED.payload_hash
           OR s.valid IS DISTINCT FROM EXCLUDED.valid
           OR s.deleted_at IS NOT NULL
        RETURNING xmax = 0 AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted) AS inserted,
           count(*) FILTER (WHERE NOT inserted) AS updated
    FROM upserted
"""


def _key_sql(arity: int) -> str:
    """The stored key of record ``x.e`` with ``arity`` properties (named :k0, :k1 …).

    A single key is stored as its property's text (``->>``), a composite one as the JSON
    array of the values (jsonb's text of it). Within a page, records are told apart by
    ``odata.keys.key_text``, which orders values the same way.
    """
    if arity == 1:
        return "x.e ->> :k0"
    return "(jsonb_build_array(" + ", ".join(f"x.e -> :k{i}" for i in range(arity)) + "))::text"


@functools.cache
def _upsert(arity: int) -> TextClause:
    """The upsert for a key of ``arity`` properties; a deleted row that reappears is
    undeleted (and counted as updated)."""
    return text(_UPSERT.format(key=_key_sql(arity), page_records=_PAGE_RECORDS))


_SEEN = """
    INSERT INTO cc_run_seen_key (chain_run_id, record_key)
    SELECT :chain, {key}
    {page_records}
    ON CONFLICT DO NOTHING
"""


@functools.cache
def _seen(arity: int) -> TextClause:
    return text(_SEEN.format(key=_key_sql(arity), page_records=_PAGE_RECORDS))


async def record_seen_keys(
    conn: AsyncConnection,
    *,
    chain_run_id: uuid.UUID,
    response: tuple[uuid.UUID, datetime],
    record_key: Key,
    items_key: str | None,
    batch: SilverBatch,
) -> None:
    """Add the keys of a stored page to the chain's seen set (the same text as Silver's)."""
    await conn.execute(
        _seen(len(record_key)),
        {
            **{f"k{i}": name for i, name in enumerate(record_key)},
            "chain": chain_run_id,
            "hashes": batch.hashes,
            "valid": batch.valid,
            "items": items_key,
            "rid": response[0],
            "sent": response[1],
        },
    )


@dataclass(frozen=True)
class SilverBatch:
    """A page's records prepared for the upsert: per position the payload hash (empty: not
    written) and validity, and how many records had a usable key."""

    hashes: str
    valid: str
    keyed: int
    rejected: int


@dataclass(frozen=True)
class UpsertCounts:
    """What one page's upsert did: rows inserted, rows updated; the rest were unchanged."""

    inserted: int
    updated: int


def silver_rows(records: list[dict[str, Any]], key: Key, invalid_keys: set[str]) -> SilverBatch:
    """Per record position: payload hashes (comma-separated, empty to skip) and validity flags.

    A record without a usable key is rejected (skipped, counted); when a key repeats within a
    page, its last copy wins (one upsert may not touch a row twice). Both travel as plain
    strings: psycopg's array dumper cost 8 ms per 1000-element page.
    """
    hashes: list[str] = []
    valid: list[str] = []
    last_position: dict[str, int] = {}
    sha256 = hashlib.sha256
    dumps = orjson.dumps
    rejected = 0
    for position, record in enumerate(records):
        text_key = key_text(record, key)
        if text_key is None:
            hashes.append("")
            valid.append("0")
            rejected += 1
            continue
        if text_key in last_position:
            hashes[last_position[text_key]] = ""
        last_position[text_key] = position
        hashes.append(sha256(dumps(record)).hexdigest())
        valid.append("0" if text_key in invalid_keys else "1")
    return SilverBatch(",".join(hashes), "".join(valid), len(records) - rejected, rejected)


async def upsert_page_records(
    conn: AsyncConnection,
    *,
    config_id: uuid.UUID,
    response: tuple[uuid.UUID, datetime],
    silver_path: str,
    record_key: Key,
    items_key: str | None,
    batch: SilverBatch,
    run_id: uuid.UUID,
) -> UpsertCounts:
    """Upsert the records of the stored response ``response`` (id, sent_at) for a config."""
    row = (
        await conn.execute(
            _upsert(len(record_key)),
            {
                **{f"k{i}": name for i, name in enumerate(record_key)},
                "config": config_id,
                "path": silver_path,
                "run": run_id,
                "hashes": batch.hashes,
                "valid": batch.valid,
                "items": items_key,
                "rid": response[0],
                "sent": response[1],
            },
        )
    ).one()
    return UpsertCounts(int(row.inserted), int(row.updated))
