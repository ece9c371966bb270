"""Landing transformed legacy calls: plain COPY of the calls not there yet, per shard.

Calls fall into one of ``BUCKETS`` buckets by their backfill run, so duplicates of a call
(same content, same id) and the run row they share always meet in one bucket. A batch's
buckets are dealt to the writers (each its own connection and transaction, landing at
once); a writer holds an advisory lock per bucket until it commits, so two backfills of one
config never both decide that the same call is new.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import text

from ..store.audit_chain import link_batch
from ..store.audit_seal import SealKey, seal_in
from .transform import Call, fast_uuid5

__all__ = ["BUCKETS", "bucket_of", "deal", "run_id", "write_shard"]

BUCKETS = 64

_RUNS = text(
    """
    INSERT INTO cc_sync_run (id, config_id, resource_path, filter_hash, trigger, status,
        started_at, heartbeat_at, finished_at, created_by, message)
    SELECT r.id, :config, r.endpoint, r.fh, 'backfill', 'succeeded', r.at, r.at, r.at, :user,
           'backfilled from ' || r.client
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(id uuid, endpoint text, fh text, client text, at timestamptz)
    ON CONFLICT (id) DO NOTHING
    """
)

_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:key))")

# The foreign-key check each response row makes against the partitioned request log is
# otherwise re-planned row by row (PostgreSQL's plan cache keeps preferring a custom plan):
# ~100 µs a row, a third of the landing. One cached generic plan prunes at run time instead.
_GENERIC_PLANS = text("SET LOCAL plan_cache_mode = force_generic_plan")

# A batch's commit need not wait for its WAL to reach the disk: if the server crashed before
# it did, the batch is simply not there, and the rerun the operator makes anyway writes it.
# (Nothing else relies on the batch: the runs' counts and the cursors commit synchronously.)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")

_EXISTING = text(
    """
    SELECT CAST(id AS text) FROM cc_api_request_log
    WHERE id = ANY(CAST(:ids AS uuid[])) AND sent_at BETWEEN :first AND :last
    """
)

_REQUEST_COLUMNS = (
    "id, sent_at, config_id, run_id, method, url, endpoint_path, query_params, headers,"
    " attempt_no, chain_id"
)
_RESPONSE_COLUMNS = (
    "id, sent_at, request_id, received_at, status_code, headers, body, body_text, size_bytes,"
    " elapsed_ms, parse_ok, odata_count, has_next_link, chain_id"
)
_ERROR_COLUMNS = (
    "id, occurred_at, kind, retryable, status_code, endpoint_path, message, config_id, run_id,"
    " request_id, request_sent_at"
)


def run_id(config_id: Any, key: tuple[str, str, str, str]) -> str:
    """The backfill run of (client, day, endpoint, filter hash) for a config."""
    return fast_uuid5(f"run:{config_id}:{'|'.join(key)}")


def bucket_of(run: str) -> int:
    return int(run[:4], 16) % BUCKETS


def deal(
    buckets: dict[int, list[tuple[Call, str]]], writers: int
) -> list[tuple[list[int], list[tuple[Call, str]]]]:
    """Buckets dealt to at most ``writers`` shards of about equal size (largest first)."""
    shards: list[tuple[list[int], list[tuple[Call, str]]]] = [([], []) for _ in range(writers)]
    for bucket, calls in sorted(buckets.items(), key=lambda item: -len(item[1])):
        keys, shard = min(shards, key=lambda s: len(s[1]))
        keys.append(bucket)
        shard.extend(calls)
    return [(sorted(keys), calls) for keys, calls in shards if calls]


def _copy(cursor: Any, table: str, columns: str, rows: Iterable[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _request_row(call: Call, config_id: str, run: str, chain: uuid.UUID) -> tuple[Any, ...]:
    return (
        call.id,
        call.sent_at,
        config_id,
        run,
        call.method,
        call.url,
        call.endpoint,
        call.query_json,
        call.headers_json,
        1,
        chain,
    )


def _response_row(call: Call, chain: uuid.UUID) -> tuple[Any, ...]:
    body = call.body
    return (
        fast_uuid5(f"response:{call.id}"),
        call.sent_at,
        call.id,
        call.sent_at + timedelta(milliseconds=call.elapsed_ms),
        call.status,
        call.response_headers_json,
        body if call.body_is_json else None,  # JSON text straight into the jsonb column
        None if call.body_is_json else body,
        len(body.encode()) if body else 0,
        call.elapsed_ms,
        call.parse_ok,
        call.odata_count,
        call.has_next_link,
        chain,
    )


def _error_row(call: Call, config_id: str, run: str) -> tuple[Any, ...]:
    return (
        fast_uuid5(f"error:{call.id}"),
        call.sent_at,
        call.error_kind,
        call.retryable,
        call.status,
        call.endpoint,
        f"legacy call answered {call.status}",
        config_id,
        run,
        call.id,
        call.sent_at,
    )


def write_shard(
    conn: Any,
    calls: list[tuple[Call, str]],
    config_id: str,
    buckets: list[int],
    user: str,
    seal_key: SealKey | None = None,
) -> int:
    """Land one shard's (call, run id) pairs in the caller's transaction; returns new calls.

    The calls already there are left out first, so the rest goes in with plain COPY (no
    staging table, no conflict handling): run rows, requests, responses, error events. The
    shard's requests and responses form a batch chain of their own, linked after the COPY and
    sealed (with ``seal_key``) in the same transaction.
    """
    for bucket in buckets:  # in ascending order: two backfills cannot deadlock
        conn.execute(_LOCK, {"key": f"cc-backfill:{config_id}:{bucket}"})
    conn.execute(_GENERIC_PLANS)
    conn.execute(_ASYNC_COMMIT)
    existing = set(
        conn.execute(
            _EXISTING,
            {
                "ids": [c.id for c, _ in calls],
                "first": min(c.sent_at for c, _ in calls),
                "last": max(c.sent_at for c, _ in calls),
            },
        ).scalars()
    )
    fresh: dict[str, tuple[Call, str]] = {}
    for call, run in calls:
        if call.id not in existing:
            fresh.setdefault(call.id, (call, run))
    if not fresh:
        return 0
    runs: dict[str, dict[str, Any]] = {}
    for call, run in fresh.values():
        if run not in runs:
            client, _, endpoint, fh = call.run_key
            at = call.sent_at.isoformat()
            runs[run] = {"id": run, "endpoint": endpoint, "fh": fh, "client": client, "at": at}
    rows = orjson.dumps(list(runs.values())).decode()
    conn.execute(_RUNS, {"rows": rows, "config": config_id, "user": user})
    chain = uuid.uuid4()
    with conn.connection.driver_connection.cursor() as cursor:
        _copy(
            cursor,
            "cc_api_request_log",
            _REQUEST_COLUMNS,
            (_request_row(c, config_id, run, chain) for c, run in fresh.values()),
        )
        _copy(
            cursor,
            "cc_api_response_log",
            _RESPONSE_COLUMNS,
            (_response_row(c, chain) for c, _ in fresh.values() if c.status is not None),
        )
        _copy(
            cursor,
            "cc_error_event",
            _ERROR_COLUMNS,
            (_error_row(c, config_id, run) for c, run in fresh.values() if c.error_kind),
        )
    _link(conn, chain, uuid.UUID(config_id), list(fresh.values()), seal_key)
    return len(fresh)


def _link(
    conn: Any,
    chain: uuid.UUID,
    config_id: uuid.UUID,
    fresh: list[tuple[Call, str]],
    seal_key: SealKey | None,
) -> None:
    requests = [(c.id, c.sent_at) for c, _ in fresh]
    responses = [(fast_uuid5(f"response:{c.id}"), c.sent_at) for c, _ in fresh if c.status]
    link_batch(conn, "request", chain, config_id, requests)
    link_batch(conn, "response", chain, config_id, responses)
    if seal_key is not None:  # else `db maintain` seals it once the key is at hand
        seal_in(conn, chain, seal_key, "backfill", config_id, None)
