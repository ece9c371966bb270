"""Validation: parse_ok per endpoint, validation error kinds, and schema drift events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from .audit_completeness import unanswered_by_endpoint
from .window import Window

__all__ = ["PARSE_OK_TARGET", "validation_report"]

PARSE_OK_TARGET = 0.95
_CONFIG = "(CAST(:config AS uuid) IS NULL OR q.config_id = :config)"

# Data pages only: a 429 or 503 body is not an envelope and says nothing about parsing.
# Counted as requests per endpoint (index-only on (endpoint_path, sent_at)) minus the
# exceptions, each found through a narrow index: unanswered requests, non-2xx responses,
# and unparsed 2xx responses (the partial index of migration 0003).
_REQUESTS = text(
    f"""
    SELECT q.endpoint_path, count(*) AS n FROM cc_api_request_log q
    WHERE q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
    GROUP BY 1 ORDER BY 1
    """
)

_NOT_2XX = text(
    f"""
    SELECT q.endpoint_path, count(*) AS n
    FROM cc_api_response_log s
    JOIN cc_api_request_log q ON q.id = s.request_id AND q.sent_at = s.sent_at
    WHERE (s.status_code < 200 OR s.status_code > 299)
      AND s.sent_at >= :start AND s.sent_at < :end
      AND q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
    GROUP BY 1
    """
)

_UNPARSED_2XX = text(
    f"""
    SELECT q.endpoint_path, count(*) AS n
    FROM cc_api_response_log s
    JOIN cc_api_request_log q ON q.id = s.request_id AND q.sent_at = s.sent_at
    WHERE NOT s.parse_ok AND s.status_code BETWEEN 200 AND 299
      AND s.sent_at >= :start AND s.sent_at < :end
      AND q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
    GROUP BY 1
    """
)

_EXPECTED = text(
    """
    SELECT DISTINCT resource_path FROM cc_odata_query_template
    WHERE is_active AND (CAST(:config AS uuid) IS NULL OR config_id = :config)
    """
)

_CHECKS = text(
    """
    SELECT v.resource_path, count(*) AS pages, sum(v.records_checked) AS checked,
           sum(v.records_invalid) AS invalid
    FROM cc_schema_validation v LEFT JOIN cc_sync_run r ON r.id = v.run_id
    WHERE v.checked_at >= :start AND v.checked_at < :end
      AND (CAST(:config AS uuid) IS NULL OR r.config_id = :config)
    GROUP BY 1 ORDER BY 1
    """
)

_ERROR_KINDS = text(
    """
    SELECT v.resource_path, e ->> 'error' AS kind, count(*) AS n
    FROM cc_schema_validation v LEFT JOIN cc_sync_run r ON r.id = v.run_id
    CROSS JOIN LATERAL jsonb_array_elements(COALESCE(v.errors_sample, '[]'::jsonb)) AS e
    WHERE v.checked_at >= :start AND v.checked_at < :end AND NOT v.ok
      AND (CAST(:config AS uuid) IS NULL OR r.config_id = :config)
    GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2
    """
)

_DRIFT = text(
    """
    SELECT v.resource_path, v.drift, min(v.checked_at) AS first_seen, count(*) AS pages,
           (array_agg(v.response_id ORDER BY v.checked_at, v.id))[1] AS first_response_id,
           (array_agg(v.run_id ORDER BY v.checked_at, v.id))[1] AS first_run_id
    FROM cc_schema_validation v LEFT JOIN cc_sync_run r ON r.id = v.run_id
    WHERE v.checked_at >= :start AND v.checked_at < :end AND v.drift IS NOT NULL
      AND v.drift <> '{}'::jsonb AND (CAST(:config AS uuid) IS NULL OR r.config_id = :config)
    GROUP BY 1, 2 ORDER BY 3
    """
)


def validation_report(conn: Connection, window: Window) -> dict[str, Any]:
    """Parse coverage per endpoint (flagged below 95% where templates expect data), errors, drift."""
    params = window.params
    expected = {r[0] for r in conn.execute(_EXPECTED, params)}
    unanswered = unanswered_by_endpoint(conn, window)
    not_2xx = {r.endpoint_path: r.n for r in conn.execute(_NOT_2XX, params)}
    unparsed = {r.endpoint_path: r.n for r in conn.execute(_UNPARSED_2XX, params)}
    endpoints = []
    for r in conn.execute(_REQUESTS, params):
        responses = r.n - unanswered.get(r.endpoint_path, 0) - not_2xx.get(r.endpoint_path, 0)
        if responses <= 0:
            continue
        ok = responses - unparsed.get(r.endpoint_path, 0)
        ratio = ok / responses
        endpoints.append(
            {
                "endpoint": r.endpoint_path,
                "responses": responses,
                "parse_ok": ok,
                "parse_ok_ratio": round(ratio, 4),
                "expected": r.endpoint_path in expected,
                "below_target": r.endpoint_path in expected and ratio < PARSE_OK_TARGET,
            }
        )
    checks = [
        {
            "resource_path": r.resource_path,
            "pages": r.pages,
            "records_checked": int(r.checked),
            "records_invalid": int(r.invalid),
        }
        for r in conn.execute(_CHECKS, params)
    ]
    kinds = [
        {"resource_path": r.resource_path, "kind": r.kind, "count": r.n}
        for r in conn.execute(_ERROR_KINDS, params)
    ]
    drift = [
        {
            "resource_path": r.resource_path,
            "drift": r.drift,
            "first_seen": r.first_seen.isoformat(),
            "pages": r.pages,
            "first_response_id": str(r.first_response_id),
            "first_run_id": str(r.first_run_id) if r.first_run_id else None,
        }
        for r in conn.execute(_DRIFT, params)
    ]
    return {
        "report": "validation",
        "window": window.describe(),
        "target": PARSE_OK_TARGET,
        "endpoints_below_target": sum(1 for e in endpoints if e["below_target"]),
        "endpoints": endpoints,
        "schema_checks": checks,
        "error_kinds": kinds,
        "drift": drift,
    }
