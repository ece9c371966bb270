"""Audit completeness: every request has its response or an explanation; every log has a run."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, text

from .window import Window

__all__ = ["audit_report"]

_CONFIG = "(CAST(:config AS uuid) IS NULL OR q.config_id = :config)"

_TOTALS = text(
    f"""
    SELECT count(*) AS requests, count(s.id) AS responses,
           count(s.id) FILTER (WHERE q.run_id IS NULL) AS responses_without_run
    FROM cc_api_request_log q
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.sent_at >= :start AND q.sent_at < :end AND {_CONFIG}
    """
)

_UNANSWERED = text(
    f"""
    SELECT q.id, q.sent_at, q.run_id, r.status AS run_status,
           (SELECT array_agg(e.kind) FROM cc_error_event e
             WHERE e.request_id = q.id AND e.request_sent_at = q.sent_at) AS kinds
    FROM cc_api_request_log q
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    LEFT JOIN cc_sync_run r ON r.id = q.run_id
    WHERE q.sent_at >= :start AND q.sent_at < :end AND s.id IS NULL AND {_CONFIG}
    """
)

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
    if "timeout" in kinds:
        return "timed_out"
    if kinds:
        return "failed_before_response"  # connect, reset, … each has its error event
    if row.run_status == "running":
        return "in_flight"
    if row.run_status in ("failed", "partial"):
        return "interrupted"
    return "unexplained"


def audit_report(conn: Connection, window: Window) -> dict[str, Any]:
    """Correlation of requests, responses and runs over the window (target: 100%)."""
    params = window.params
    totals = conn.execute(_TOTALS, params).one()
    reasons = Counter(_explain(row) for row in conn.execute(_UNANSWERED, params))
    runs_without = [
        {"run_id": str(r.id), "status": r.status, "resource_path": r.resource_path}
        for r in conn.execute(_RUNS_WITHOUT_REQUESTS, params)
    ]
    unexplained = reasons.pop("unexplained", 0)
    accounted = totals.responses + sum(reasons.values())
    return {
        "report": "audit",
        "window": window.describe(),
        "requests": totals.requests,
        "responses": totals.responses,
        "requests_without_response": totals.requests - totals.responses,
        "explained": {reason: reasons.get(reason, 0) for reason in EXPLANATIONS},
        "unexplained": unexplained,
        "responses_without_run": totals.responses_without_run,
        "runs_without_requests": runs_without,
        "correlation_pct": round(100 * accounted / totals.requests, 2)
        if totals.requests
        else 100.0,
    }
