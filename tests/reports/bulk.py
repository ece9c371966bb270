"""A big, realistic log for query-plan tests and the report benchmark, generated inside PostgreSQL.

``generate_history(conn, requests=1_000_000, days=30)``: one config, 8 endpoints with a
template each, a run per endpoint per 6 hours, requests spread evenly over the last ``days``
days, a response for all but 1 in 500, 1 in 40 a 429 (with its error event and
``x-ratelimit-remaining: 0``), 1 in 100 not parseable, a schema check per 10 requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text

__all__ = ["generate_history"]

ENDPOINTS = [
    "sites",
    "studies",
    "patients",
    "subjects",
    "visits",
    "patient-visits",
    "elements",
    "site-payments",
]

_STEPS = [
    """
    INSERT INTO cc_api_client_config (id, name, base_url, secret_ref, created_by, updated_by)
    VALUES ('00000000-0000-4000-8000-00000000b001', 'bulk', 'http://sim/api/v1',
            'env:CC_BULK_KEY', 'bulk', 'bulk')
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO cc_odata_query_template (id, config_id, name, resource_path, params,
        params_hash, filter_hash, sla_target_s, created_by, updated_by)
    SELECT md5('t' || e)::uuid, '00000000-0000-4000-8000-00000000b001', e, '/' || e || '/odata',
           '{}', md5('p' || e) || md5('p' || e), md5('f' || e) || md5('f' || e), 600, 'bulk', 'bulk'
    FROM unnest(CAST(:endpoints AS text[])) AS e
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO cc_sync_run (id, config_id, template_id, resource_path, filter_hash, trigger,
        status, started_at, heartbeat_at, finished_at, pages, records, odata_count, requests,
        retries, http_429_count, wait_s, created_by)
    SELECT md5(:tag || 'r' || e || h)::uuid, '00000000-0000-4000-8000-00000000b001', md5('t' || e)::uuid,
           '/' || e || '/odata', md5('f' || e) || md5('f' || e), 'schedule',
           CASE WHEN h % 17 = 0 THEN 'partial' ELSE 'succeeded' END,
           :now - make_interval(hours => h * 6 + 6), :now - make_interval(hours => h * 6 + 6),
           :now - make_interval(hours => h * 6 + 6) + make_interval(secs => 300 + h % 50),
           100, 100000, 100000, :per_run, h % 7, :per_run / 40, (h % 9) * 1.5, 'bulk'
    FROM unnest(CAST(:endpoints AS text[])) AS e, generate_series(0, :runs - 1) AS h
    """,
    """
    INSERT INTO cc_api_request_log (id, sent_at, config_id, run_id, template_id, method, url,
        endpoint_path, query_params, headers, attempt_no)
    SELECT md5(:tag || 'q' || n)::uuid, :now - make_interval(secs => n * :spacing),
           '00000000-0000-4000-8000-00000000b001',
           md5(:tag || 'r' || (CAST(:endpoints AS text[]))[1 + n % 8]
               || least(floor(n * :spacing / 21600), :runs - 1)::int)::uuid,
           md5('t' || (CAST(:endpoints AS text[]))[1 + n % 8])::uuid, 'GET',
           'http://sim/api/v1/' || (CAST(:endpoints AS text[]))[1 + n % 8] || '/odata?$skip=' || n,
           '/' || (CAST(:endpoints AS text[]))[1 + n % 8] || '/odata',
           jsonb_build_object('$skip', n::text, '$top', '1000'), '{}', 1
    FROM generate_series(1, :requests) AS n
    """,
    """
    INSERT INTO cc_api_response_log (id, sent_at, request_id, received_at, status_code, headers,
        size_bytes, elapsed_ms, parse_ok)
    SELECT md5(:tag || 's' || n)::uuid, :now - make_interval(secs => n * :spacing), md5(:tag || 'q' || n)::uuid,
           :now - make_interval(secs => n * :spacing) + interval '80 ms',
           CASE WHEN n % 40 = 0 THEN 429 ELSE 200 END,
           jsonb_build_object('x-ratelimit-limit', '10',
               'x-ratelimit-remaining', CASE WHEN n % 40 = 0 THEN '0' ELSE '5' END),
           600000, 80, n % 40 <> 0 AND n % 100 <> 0
    FROM generate_series(1, :requests) AS n WHERE n % 500 <> 0
    """,
    """
    INSERT INTO cc_error_event (id, occurred_at, kind, retryable, status_code, endpoint_path,
        message, config_id, run_id, request_id, request_sent_at)
    SELECT md5(:tag || 'e' || q.id::text)::uuid, q.sent_at + interval '90 ms', 'http_429', true, 429,
           q.endpoint_path, '429 Too Many Requests', q.config_id, q.run_id, q.id, q.sent_at
    FROM cc_api_response_log s JOIN cc_api_request_log q ON q.id = s.request_id
         AND q.sent_at = s.sent_at
    WHERE s.status_code = 429 AND s.sent_at <= :now
      AND s.sent_at >= :now - make_interval(secs => :requests * :spacing)
    """,
    """
    INSERT INTO cc_schema_validation (id, checked_at, response_id, response_sent_at, run_id,
        resource_path, schema_name, schema_version, ok, records_checked, records_invalid)
    SELECT md5(:tag || 'v' || n)::uuid, :now - make_interval(secs => n * :spacing), md5(:tag || 's' || n)::uuid,
           :now - make_interval(secs => n * :spacing), NULL,
           '/' || (CAST(:endpoints AS text[]))[1 + n % 8] || '/odata', 'bulk', '1', true, 1000, 0
    FROM generate_series(10, :requests, 10) AS n WHERE n % 500 <> 0
    """,
]


def generate_history(
    conn: Any, *, now: datetime, requests: int = 1_000_000, days: int = 30, tag: str = ""
) -> None:
    """Fill a migrated database (the caller commits) with ``days`` of history ending ``now``.

    A second call with another ``tag`` (and days that do not overlap) adds more history to
    the same config. The caller creates the partitions of those days first.

    Foreign-key triggers are skipped while filling (``session_replication_role``, superuser):
    the generator makes every reference valid by construction, and checking 2M of them
    row by row took most of the time.
    """
    conn.execute(text("SET LOCAL session_replication_role = replica"))
    spacing = days * 86_400 / requests
    runs = days * 4
    params = {
        "now": now,
        "requests": requests,
        "spacing": spacing,
        "runs": runs,
        "per_run": requests // (len(ENDPOINTS) * runs),
        "endpoints": ENDPOINTS,
        "tag": tag,
    }
    for step in _STEPS:
        conn.execute(text(step), params)
    conn.execute(text("SET LOCAL session_replication_role = origin"))
    conn.execute(text("ANALYZE"))
