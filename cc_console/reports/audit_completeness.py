"""Audit completeness: every request has its response or an explanation; every log has a run."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, text

from ..errors import ErrorKind
from .window import Window

__all__ = ["audit_report", "unanswered_by_endpoint"]

_CONFIG = "(CAST(:config AS uuid) IS NULL OR q.config_id = :config)"

_REQUESTS = text(
    f"SELECT count(*) FROM cc_api_request_log q WHERE q.sent_at >= :start AND q.sent_at < :end"
    f" AND {_CONFIG}"
)

# a response shares its request's sent_at, so the window prunes and filters it directly
_RESPONSES = text(
    f"""
    SELECT count(*) FROM cc_api_response_log s
    WHERE s.sent_at >= :start AND s.sent_at < :end
      AND (CAST(:config AS uuid) IS NULL OR EXISTS (
          SELECT 1 FROM cc_api_request_log q WHERE q.id = s.request_id
            AND q.sent_at = s.sent_at AND {_CONFIG}))
    """
)

_RESPONSES_WITHOUT_RUN = text(
    f"""
    SELECT count(*) FROM cc_api_request_log q
    WHERE q.run_id IS NULL AND q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
      AND EXISTS (SELECT 1 FROM cc_api_response_log s
                  WHERE s.request_id = q.id AND s.sent_at = q.sent_at)
    """
)

# Only two kinds of request can lack a response for a reason: the last attempts of a run
# that did not succeed (in flight, or cut off when it stopped; the engine has at most two in
# flight), and attempts an error event without a response points at (timeout, connect,
# reset …). Both are found through narrow indexes, then checked against the response log;
# any other gap in the totals is counted as unexplained.
_UNANSWERED = text(
    f"""
    WITH runs AS (
        SELECT id, status FROM cc_sync_run
        WHERE status <> 'succeeded' AND started_at < :end
          AND COALESCE(finished_at, 'infinity') >= :start
    ), events AS (
        SELECT request_id, request_sent_at, array_agg(kind) AS kinds FROM cc_error_event
        WHERE occurred_at >= :start AND occurred_at < CAST(:end AS timestamptz) + interval '1 hour'
          AND request_id IS NOT NULL AND kind = ANY(CAST(:unanswered_kinds AS text[]))
        GROUP BY 1, 2
    ), candidates AS (
        SELECT q.id, q.sent_at, q.endpoint_path, q.run_id FROM runs r
        CROSS JOIN LATERAL (
            SELECT q.id, q.sent_at, q.endpoint_path, q.run_id FROM cc_api_request_log q
            WHERE q.run_id = r.id AND q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
            ORDER BY q.sent_at DESC LIMIT 2
        ) q
        UNION
        SELECT q.id, q.sent_at, q.endpoint_path, q.run_id FROM events e
        JOIN cc_api_request_log q ON q.id = e.request_id AND q.sent_at = e.request_sent_at
        WHERE q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
    )
    SELECT c.endpoint_path, r.status AS run_status, e.kinds
    FROM candidates c
    LEFT JOIN cc_sync_run r ON r.id = c.run_id
    LEFT JOIN events e ON e.request_id = c.id AND e.request_sent_at = c.sent_at
    WHERE NOT EXISTS (SELECT 1 FROM cc_api_response_log s
                      WHERE s.request_id = c.id AND s.sent_at = c.sent_at)
    """
)

# error kinds raised when no response arrived (the others come with one)
UNANSWERED_KINDS = [
    kind.value
    for kind in (
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECT,
        ErrorKind.RESET,
        ErrorKind.INTERRUPTED,
        ErrorKind.CANCELLED,
        ErrorKind.DB,
        ErrorKind.SECRET_UNAVAILABLE,
    )
]

_RUNS_WITHOUT_REQUESTS = text(
    """
    SELECT r.id, r.status, r.resource_path FROM cc_sync_run r
    WHERE r.started_at >= :start AND r.started_at < :end AND r.status <> 'running'
      AND (CAST(:config AS uuid) IS NULL OR r.config_id = :config)
      AND NOT EXISTS (SELECT 1 FROM cc_api_request_log q
                      WHERE q.run_id = r.id AND q.sent_at >= r.started_at)
    ORDER BY r.started_at
    """
)

EXPLANATIONS = ("in_flight", "timed_out", "failed_before_response", "interrupted")


def _explain(row: Any) -> str:
    kinds = set(row.kinds or [])
    if ErrorKind.TIMEOUT in kinds:
        return "timed_out"
    if kinds:
        return "failed_before_response"  # connect, reset, … each has its error event
    if row.run_status == "running":
        return "in_flight"
    return "interrupted"  # the run failed or stopped before this attempt was answered


def unanswered_by_endpoint(conn: Connection, window: Window) -> Counter[str]:
    """Explained requests without a response, per endpoint."""
    params = {**window.params, "unanswered_kinds": UNANSWERED_KINDS}
    return Counter(r.endpoint_path for r in conn.execute(_UNANSWERED, params))


def audit_report(conn: Connection, window: Window) -> dict[str, Any]:
    """Correlation of requests, responses and runs over the window (target: 100%)."""
    params = window.params
    requests = conn.execute(_REQUESTS, params).scalar_one()
    responses = conn.execute(_RESPONSES, params).scalar_one()
    reasons = Counter(
        _explain(row)
        for row in conn.execute(_UNANSWERED, {**params, "unanswered_kinds": UNANSWERED_KINDS})
    )
    runs_without = [
        {"run_id": str(r.id), "status": r.status, "resource_path": r.resource_path}
        for r in conn.execute(_RUNS_WITHOUT_REQUESTS, params)
    ]
    without_response = requests - responses
    unexplained = without_response - sum(reasons.values())
    return {
        "report": "audit",
        "window": window.describe(),
        "requests": requests,
        "responses": responses,
        "requests_without_response": without_response,
        "explained": {reason: reasons.get(reason, 0) for reason in EXPLANATIONS},
        "unexplained": unexplained,
        "responses_without_run": conn.execute(_RESPONSES_WITHOUT_RUN, params).scalar_one(),
        "runs_without_requests": runs_without,
        "correlation_pct": round(100 * (responses + sum(reasons.values())) / requests, 2)
        if requests
        else 100.0,
    }
