"""Throttling: 429s by endpoint × hour and by run, waiting, the trend, and what to change."""

from __future__ import annotations

import statistics
from datetime import UTC
from typing import Any

from sqlalchemy import Connection, text

from ..store.rate_limits import learned_rates
from .window import Window

__all__ = ["throttling_report"]

_CONFIG = "(CAST(:config AS uuid) IS NULL OR {column} = :config)"

_BY_HOUR = text(
    f"""
    SELECT endpoint_path, date_trunc('hour', occurred_at, 'UTC') AS hour, count(*) AS n
    FROM cc_error_event
    WHERE kind = 'http_429' AND occurred_at >= :start AND occurred_at < :end
      AND {_CONFIG.format(column="config_id")}
    GROUP BY 1, 2 ORDER BY 2, 1
    """
)

_RUNS = text(
    f"""
    SELECT id, resource_path, status, requests, http_429_count, wait_s,
           extract(epoch FROM COALESCE(finished_at, heartbeat_at) - started_at) AS duration_s
    FROM cc_sync_run
    WHERE started_at >= :start AND started_at < :end AND {_CONFIG.format(column="config_id")}
    ORDER BY http_429_count DESC, started_at
    """
)

_DAILY = text(
    f"""
    SELECT d.day, COALESCE(q.n, 0) AS requests, COALESCE(e.n, 0) AS throttled
    FROM generate_series(date_trunc('day', CAST(:start AS timestamptz), 'UTC'),
                         CAST(:end AS timestamptz) - interval '1 microsecond',
                         interval '1 day') AS d(day)
    LEFT JOIN (SELECT date_trunc('day', sent_at, 'UTC') AS day, count(*) AS n
               FROM cc_api_request_log
               WHERE sent_at >= :start AND sent_at < :end
                 AND {_CONFIG.format(column="config_id")} GROUP BY 1) q ON q.day = d.day
    LEFT JOIN (SELECT date_trunc('day', occurred_at, 'UTC') AS day, count(*) AS n FROM cc_error_event
               WHERE kind = 'http_429' AND occurred_at >= :start AND occurred_at < :end
                 AND {_CONFIG.format(column="config_id")} GROUP BY 1) e ON e.day = d.day
    ORDER BY d.day
    """
)

# responses that said the budget was spent (GIN jsonb_path_ops on headers, month-pruned)
_EXHAUSTED = text(
    f"""
    SELECT q.endpoint_path, count(*) AS n,
           max(s.headers ->> 'x-ratelimit-limit') AS limit_header
    FROM cc_api_response_log s
    JOIN cc_api_request_log q ON q.id = s.request_id AND q.sent_at = s.sent_at
    WHERE s.headers @> '{{"x-ratelimit-remaining": "0"}}'
      AND s.sent_at >= :start AND s.sent_at < :end AND q.sent_at >= :start AND q.sent_at < :end
      AND {_CONFIG.format(column="q.config_id")}
    GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10
    """
)


def _slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, …"""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    numerator = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return numerator / sum((x - mean_x) ** 2 for x in range(n))


def throttling_report(conn: Connection, window: Window) -> dict[str, Any]:
    """Where and when the server said 429, what it cost, and whether it is getting better."""
    params = window.params
    by_hour = [
        {"endpoint": r.endpoint_path, "hour": r.hour.astimezone(UTC).isoformat(), "count": r.n}
        for r in conn.execute(_BY_HOUR, params)
    ]
    runs = [dict(r) for r in conn.execute(_RUNS, params).mappings()]
    throttled_runs = [r for r in runs if r["http_429_count"]]
    daily = [
        {
            "day": r.day.date().isoformat(),
            "requests": r.requests,
            "http_429": r.throttled,
            "ratio": round(r.throttled / r.requests, 4) if r.requests else None,
        }
        for r in conn.execute(_DAILY, params)
    ]
    ratios = [d["ratio"] for d in daily if d["ratio"] is not None]
    slope = _slope(ratios)
    trend = "falling" if slope < -1e-4 else "rising" if slope > 1e-4 else "flat"
    exhausted = [
        {"endpoint": r.endpoint_path, "responses_at_zero": r.n, "limit_header": r.limit_header}
        for r in conn.execute(_EXHAUSTED, params)
    ]
    total_429 = sum(r["count"] for r in by_hour)
    total_requests = sum(d["requests"] for d in daily)
    return {
        "report": "throttling",
        "window": window.describe(),
        "http_429": total_429,
        "requests": total_requests,
        "ratio": round(total_429 / total_requests, 4) if total_requests else None,
        "wait_s": round(sum(r["wait_s"] for r in runs), 3),
        "by_endpoint_hour": by_hour,
        "by_run": [
            {
                "run_id": str(r["id"]),
                "resource_path": r["resource_path"],
                "status": r["status"],
                "http_429": r["http_429_count"],
                "requests": r["requests"],
                "wait_s": round(r["wait_s"], 3),
            }
            for r in throttled_runs[:20]
        ],
        "daily": daily,
        "trend": trend,
        "trend_slope_per_day": round(slope, 6),
        "exhausted_scopes": exhausted,
        "learned": (learned := learned_rates(conn, params.get("config"))),
        "suggestion": _suggest(throttled_runs, total_429, total_requests, learned),
    }


def _suggest(
    runs: list[dict[str, Any]], total_429: int, total: int, learned: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """Pace at the rate the engines learned, or else below the rate at which the throttled
    runs were sent (with the evidence)."""
    if not total or total_429 / total < 0.01:
        return None
    settled = [s for s in learned if not s["probing"] and s["ceiling_rps"]]
    if settled:
        slowest = min(settled, key=lambda s: s["learned_rps"])
        sure = f", confirmed ×{slowest['confirmations']}" if slowest["confirmations"] else ""
        return {
            "max_requests_per_second": round(slowest["learned_rps"], 2),
            "why": (
                f"{total_429} of {total} requests ({total_429 / total:.1%}) got 429; the"
                f" engines learned {slowest['learned_rps']:.2f} req/s for"
                f" {slowest['config']} {slowest['scope']} (the last 429 came at"
                f" {slowest['ceiling_rps']:.2f}{sure}) — they pace to it already; set it as a"
                " ceiling (`cc-console config edit NAME --max-rps N`) only to start there"
                " after a reset"
            ),
        }
    rates = [
        r["requests"] / float(r["duration_s"])
        for r in runs
        if r["duration_s"] and float(r["duration_s"]) > 0 and r["requests"]
    ]
    if not rates:
        return None
    achieved = statistics.median(rates)
    return {
        "max_requests_per_second": round(achieved * 0.8, 2),
        "why": (
            f"{total_429} of {total} requests ({total_429 / total:.1%}) got 429; the "
            f"throttled runs sent a median {achieved:.2f} req/s — pace at 80% of that "
            "(`cc-console config edit NAME --max-rps N`) and let the shared limiter "
            "spread it across engines"
        ),
    }
