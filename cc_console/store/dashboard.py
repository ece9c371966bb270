"""What the console's dashboard shows, read in one short transaction.

Every list is capped (newest first) and carries an honest total: exact for runs and cursors,
counted up to a cap for the partitioned request log and the error events, so a refresh costs
the same at a thousand rows as at millions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .details import fetch_dicts

__all__ = ["Capped", "Dashboard", "RATE_WINDOW_MINUTES", "load_dashboard"]

RATE_WINDOW_MINUTES = 10
COUNT_CAP = 100_000


@dataclass
class Capped:
    """The newest ``rows`` of a list and how many there are (``total`` may be a lower bound)."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool = True


@dataclass
class Dashboard:
    """One consistent read of the five panes."""

    now: datetime
    runs: Capped
    requests: Capped
    scopes: list[dict[str, Any]]
    cursors: Capped
    errors: Capped
    active_runs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_RUNS = text(
    """
    SELECT r.id, r.parent_run_id, r.template_id, COALESCE(t.name, r.resource_path) AS template,
           r.resource_path, r.trigger, r.status, r.started_at, r.finished_at, r.heartbeat_at,
           r.pages, r.records, r.odata_count, r.requests, r.retries, r.http_429_count,
           r.error_count, r.wait_s, r.sla_target_s, r.cancel_requested_at, r.message
    FROM cc_sync_run r LEFT JOIN cc_odata_query_template t ON t.id = r.template_id
    ORDER BY r.started_at DESC, r.id DESC LIMIT :limit
    """
)

_REQUESTS = text(
    """
    SELECT q.id, q.sent_at, q.method, q.endpoint_path, q.url, q.attempt_no, q.run_id,
           s.status_code, s.elapsed_ms, s.size_bytes, s.parse_ok
    FROM cc_api_request_log q LEFT JOIN cc_api_response_log s
      ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.sent_at >= :since
    ORDER BY q.sent_at DESC, q.id DESC LIMIT :limit
    """
)

_SCOPES = text(
    """
    SELECT s.id, c.name AS config, s.config_id, s.scope, s."limit", s.remaining, s.reset_at,
           s.retry_after_until, s.last_429_at, s.next_request_at, s.updated_at
    FROM cc_rate_limit_state s JOIN cc_api_client_config c ON c.id = s.config_id
    ORDER BY c.name, s.scope
    """
)

# 429s per config, endpoint and minute over the sparkline window (error events are indexed
# on occurred_at, and this window is short)
_THROTTLES = text(
    """
    SELECT config_id, endpoint_path,
           floor(extract(epoch FROM (:now - occurred_at)) / 60)::int AS minutes_ago,
           count(*) AS n
    FROM cc_error_event
    WHERE kind = 'http_429' AND occurred_at > :now - make_interval(mins => :window)
    GROUP BY 1, 2, 3
    """
)

_CURSORS = text(
    """
    SELECT p.id, c.name AS config, p.resource_path, p.filter_text, p.filter_hash, p.next_skip,
           p.next_link, p.page_size, p.odata_count, p.records_landed, p.status, p.last_run_id,
           p.last_sync_at, p.template_id
    FROM cc_pagination_state p JOIN cc_api_client_config c ON c.id = p.config_id
    ORDER BY p.last_sync_at DESC NULLS LAST, p.id LIMIT :limit
    """
)

_ERRORS = text(
    """
    SELECT e.id, e.occurred_at, e.kind, e.retryable, e.status_code, e.endpoint_path, e.run_id,
           e.message, e.request_id, e.request_sent_at
    FROM cc_error_event e ORDER BY e.occurred_at DESC, e.id DESC LIMIT :limit
    """
)


async def _capped_count(
    conn: AsyncConnection, sql: str, params: dict[str, Any]
) -> tuple[int, bool]:
    n = (
        await conn.execute(
            text(f"SELECT count(*) FROM ({sql} LIMIT {COUNT_CAP + 1}) AS capped"), params
        )
    ).scalar_one()
    return min(n, COUNT_CAP), n <= COUNT_CAP


def _sparklines(scopes: list[dict[str, Any]], throttles: list[dict[str, Any]]) -> None:
    """Attach ``per_minute`` (oldest → newest) 429 counts to each scope."""
    by_scope: dict[tuple[Any, str], list[int]] = defaultdict(lambda: [0] * RATE_WINDOW_MINUTES)
    for row in throttles:
        slot = RATE_WINDOW_MINUTES - 1 - min(max(row["minutes_ago"], 0), RATE_WINDOW_MINUTES - 1)
        by_scope[(row["config_id"], "global")][slot] += row["n"]
        if row["endpoint_path"]:
            by_scope[(row["config_id"], f"endpoint:{row['endpoint_path']}")][slot] += row["n"]
    for scope in scopes:
        scope["per_minute"] = list(by_scope[(scope["config_id"], scope["scope"])])


async def load_dashboard(
    conn: AsyncConnection, *, now: datetime, limit: int = 500, request_window_h: int = 24
) -> Dashboard:
    """Read the five panes; ``now`` is the clock the countdowns and windows are measured by."""

    since = now - timedelta(hours=request_window_h)
    runs = await fetch_dicts(conn, _RUNS, limit=limit)
    run_total = (await conn.execute(text("SELECT count(*) FROM cc_sync_run"))).scalar_one()
    active = (
        await conn.execute(text("SELECT count(*) FROM cc_sync_run WHERE status = 'running'"))
    ).scalar_one()
    requests = await fetch_dicts(conn, _REQUESTS, since=since, limit=limit)
    request_total, request_exact = await _capped_count(
        conn, "SELECT 1 FROM cc_api_request_log WHERE sent_at >= :since", {"since": since}
    )
    scopes = await fetch_dicts(conn, _SCOPES)
    _sparklines(scopes, await fetch_dicts(conn, _THROTTLES, now=now, window=RATE_WINDOW_MINUTES))
    cursors = await fetch_dicts(conn, _CURSORS, limit=limit)
    cursor_total = (
        await conn.execute(text("SELECT count(*) FROM cc_pagination_state"))
    ).scalar_one()
    errors = await fetch_dicts(conn, _ERRORS, limit=limit)
    error_total, error_exact = await _capped_count(conn, "SELECT 1 FROM cc_error_event", {})
    return Dashboard(
        now=now,
        runs=Capped(runs, run_total),
        requests=Capped(requests, request_total, request_exact),
        scopes=scopes,
        cursors=Capped(cursors, cursor_total),
        errors=Capped(errors, error_total, error_exact),
        active_runs=active,
    )
