"""Backfill: the legacy client's calls of the last N days into the new audit trail.

Idempotent and resumable: every row's id is derived from the legacy call's content, each
batch commits on its own, and inserts skip what is already there — a second run, or a run
after a kill, writes only what is missing. Raw keys found in legacy headers are masked (and
counted), never copied. At the end the backfill runs get their counts and outcome, and each
(resource, filter) cursor is initialised from the latest page that landed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from ..store.database import to_sqlalchemy_url
from .transform import LEGACY_NS, Call, transform

__all__ = ["BackfillSummary", "backfill", "legacy_batches", "legacy_engine"]

_READ = text(
    """
    SELECT id, called_at, client_name, method, url, request_headers, response_status,
           response_headers, response_body, duration_ms
    FROM api_call_log WHERE called_at >= :since AND id > :after ORDER BY id LIMIT :batch
    """
)

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

_REQUESTS = text(
    """
    INSERT INTO cc_api_request_log (id, sent_at, config_id, run_id, method, url, endpoint_path,
        query_params, headers, attempt_no)
    SELECT id, sent_at, config_id, run_id, method, url, endpoint_path, query_params, headers,
           attempt_no
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, sent_at timestamptz,
         config_id uuid, run_id uuid, method text, url text, endpoint_path text,
         query_params jsonb, headers jsonb, attempt_no int)
    ON CONFLICT DO NOTHING RETURNING id
    """
)

_RESPONSES = text(
    """
    INSERT INTO cc_api_response_log (id, sent_at, request_id, received_at, status_code, headers,
        body, body_text, size_bytes, elapsed_ms, parse_ok, odata_count, has_next_link)
    SELECT id, sent_at, request_id, received_at, status_code, headers, body, body_text,
           size_bytes, elapsed_ms, parse_ok, odata_count, has_next_link
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, sent_at timestamptz,
         request_id uuid, received_at timestamptz, status_code int, headers jsonb, body jsonb,
         body_text text, size_bytes int, elapsed_ms float8, parse_ok bool, odata_count bigint,
         has_next_link bool)
    ON CONFLICT DO NOTHING
    """
)

_ERRORS = text(
    """
    INSERT INTO cc_error_event (id, occurred_at, kind, retryable, status_code, endpoint_path,
        message, config_id, run_id, request_id, request_sent_at)
    SELECT id, occurred_at, kind, retryable, status_code, endpoint_path, message, config_id,
           run_id, request_id, request_sent_at
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, occurred_at timestamptz,
         kind text, retryable bool, status_code int, endpoint_path text, message text,
         config_id uuid, run_id uuid, request_id uuid, request_sent_at timestamptz)
    ON CONFLICT (id) DO NOTHING
    """
)

# counts and outcome of every backfill run of this config, from the rows it now owns
_FINISH_RUNS = text(
    """
    UPDATE cc_sync_run r SET requests = x.requests, http_429_count = x.throttled,
        error_count = x.failed, pages = x.pages, records = x.records, started_at = x.first,
        heartbeat_at = x.last, finished_at = x.last,
        status = CASE WHEN x.pages = 0 THEN 'failed'
                      WHEN x.failed > 0 THEN 'partial' ELSE 'succeeded' END
    FROM (
        SELECT q.run_id, count(*) AS requests,
               count(*) FILTER (WHERE s.status_code = 429) AS throttled,
               count(*) FILTER (WHERE s.id IS NULL OR s.status_code >= 400 OR NOT s.parse_ok)
                   AS failed,
               count(*) FILTER (WHERE s.parse_ok) AS pages,
               COALESCE(sum(jsonb_array_length(COALESCE(s.body -> 'items', s.body -> 'value',
                   s.body))) FILTER (WHERE s.parse_ok), 0) AS records,
               min(q.sent_at) AS first, max(q.sent_at) AS last
        FROM cc_sync_run b
        JOIN cc_api_request_log q ON q.run_id = b.id AND q.sent_at >= :since
        LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
        WHERE b.config_id = :config AND b.trigger = 'backfill'
        GROUP BY q.run_id
    ) x
    WHERE r.id = x.run_id
    """
)

# the latest page that landed per (resource, filter): where the engine continues
_LATEST_PAGES = text(
    """
    SELECT DISTINCT ON (q.endpoint_path, b.filter_hash) q.endpoint_path, b.filter_hash,
           q.query_params, s.odata_count, s.sent_at,
           jsonb_array_length(COALESCE(s.body -> 'items', s.body -> 'value', s.body)) AS items
    FROM cc_sync_run b
    JOIN cc_api_request_log q ON q.run_id = b.id AND q.sent_at >= :since
    JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE b.config_id = :config AND b.trigger = 'backfill' AND s.parse_ok
    ORDER BY q.endpoint_path, b.filter_hash, q.sent_at DESC
    """
)

_CURSOR = text(
    """
    INSERT INTO cc_pagination_state (config_id, resource_path, filter_hash, filter_text,
        next_skip, page_size, odata_count, records_landed, status, last_sync_at)
    VALUES (:config, :path, :fh, :filter, :skip, :top, :count, :skip, :status, :at)
    ON CONFLICT (config_id, resource_path, filter_hash) DO UPDATE SET
        next_skip = EXCLUDED.next_skip, odata_count = EXCLUDED.odata_count,
        status = EXCLUDED.status, last_sync_at = EXCLUDED.last_sync_at, updated_at = now()
    WHERE cc_pagination_state.last_sync_at IS NULL
       OR cc_pagination_state.last_sync_at < EXCLUDED.last_sync_at
    """
)


@dataclass
class BackfillSummary:
    """What a backfill read, wrote and left alone."""

    read: int = 0
    written: int = 0
    skipped: int = 0
    responses: int = 0
    error_events: int = 0
    keys_scrubbed: int = 0
    runs: int = 0
    cursors: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_s"] = round(self.read / self.seconds) if self.seconds else None
        return data


def legacy_batches(legacy: Engine, since: datetime, batch: int) -> Iterator[list[Any]]:
    """The window's legacy calls in id order, ``batch`` at a time (keyset on id)."""
    after = 0
    while True:
        with legacy.connect() as conn:
            rows = conn.execute(
                _READ, {"since": since.replace(tzinfo=None), "after": after, "batch": batch}
            ).all()
        if not rows:
            return
        after = rows[-1].id
        yield list(rows)


def _json(rows: Any) -> str:
    return orjson.dumps(rows).decode()


def legacy_engine(url: str) -> Engine:
    """An engine on the legacy database (any PostgreSQL URL)."""
    return create_engine(to_sqlalchemy_url(url), poolclass=NullPool)


def _run_id(config_id: uuid.UUID, key: tuple[str, str, str, str]) -> uuid.UUID:
    return uuid.uuid5(LEGACY_NS, f"run:{config_id}:{'|'.join(key)}")


def _write_batch(conn: Any, calls: list[Call], config: dict[str, Any], user: str) -> int:
    runs: dict[uuid.UUID, dict[str, Any]] = {}
    for call in calls:
        run_id = _run_id(config["id"], call.run_key)
        call.request["run_id"] = str(run_id)
        if call.error is not None:
            call.error["run_id"] = str(run_id)
        runs.setdefault(
            run_id,
            {
                "id": str(run_id),
                "endpoint": call.run_key[2],
                "fh": call.run_key[3],
                "client": call.run_key[0],
                "at": call.request["sent_at"],
            },
        )
    conn.execute(_RUNS, {"rows": _json(list(runs.values())), "config": config["id"], "user": user})
    inserted = conn.execute(_REQUESTS, {"rows": _json([c.request for c in calls])}).scalars().all()
    conn.execute(_RESPONSES, {"rows": _json([c.response for c in calls if c.response])})
    conn.execute(_ERRORS, {"rows": _json([c.error for c in calls if c.error])})
    return len(inserted)


def backfill(
    legacy: Engine,
    target: Engine,
    config: dict[str, Any],
    *,
    days: int,
    batch: int,
    now: datetime,
    user: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BackfillSummary:
    """Copy the window's legacy calls into ``target`` for ``config`` (a row with id, base_url)."""
    started = time.perf_counter()
    summary = BackfillSummary(dry_run=dry_run)
    since = now - timedelta(days=days)
    base_path = urlsplit(config["base_url"]).path
    seen_runs: set[uuid.UUID] = set()
    for rows in legacy_batches(legacy, since, batch):
        calls = [transform(row, config_id=config["id"], base_path=base_path) for row in rows]
        summary.read += len(calls)
        summary.keys_scrubbed += sum(c.keys_scrubbed for c in calls)
        seen_runs.update(_run_id(config["id"], c.run_key) for c in calls)
        if not dry_run:
            unique = list({c.request["id"]: c for c in calls}.values())
            with target.begin() as conn:
                written = _write_batch(conn, unique, config, user)
            summary.written += written
            summary.skipped += len(calls) - written
        summary.responses += sum(1 for c in calls if c.response)
        summary.error_events += sum(1 for c in calls if c.error)
        if progress is not None:
            progress(len(calls))
    summary.runs = len(seen_runs)
    if not dry_run:
        summary.cursors = _finish(target, config, since)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _finish(target: Engine, config: dict[str, Any], since: datetime) -> int:
    """Run counts and outcomes, then a cursor per (resource, filter); returns cursors set."""
    params = {"config": config["id"], "since": since}
    cursors = 0
    with target.begin() as conn:
        conn.execute(_FINISH_RUNS, params)
        for page in conn.execute(_LATEST_PAGES, params).mappings().all():
            query = page["query_params"]
            top = min(max(int(query.get("$top", "100") or 100), 1), 1000)
            skip = int(query.get("$skip", "0") or 0) + (page["items"] or 0)
            count = page["odata_count"]
            done = (count is not None and skip >= count) or (page["items"] or 0) < top
            conn.execute(
                _CURSOR,
                {
                    "config": config["id"],
                    "path": page["endpoint_path"],
                    "fh": page["filter_hash"],
                    "filter": query.get("$filter"),
                    "skip": 0 if done else skip,
                    "top": top,
                    "count": count,
                    "status": "completed" if done else "partial",
                    "at": page["sent_at"],
                },
            )
            cursors += 1
    return cursors
