"""OpenMetrics for existing monitoring, read from the database at each scrape.

Because the database is the source of truth, one ``cc-console metrics`` covers engines in
every process and host. Request-level series cover a short sliding window (bounded, indexed
reads); run-level series are totals over the run table, which retention does not trim.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, text

__all__ = ["DatabaseCollector", "WINDOW_MINUTES", "serve_metrics"]

WINDOW_MINUTES = 15

_REQUESTS = text(
    """
    SELECT q.endpoint_path, COALESCE(CAST(s.status_code AS text), 'none') AS code, count(*) AS n,
           count(*) FILTER (WHERE s.status_code BETWEEN 200 AND 299) AS ok_2xx,
           count(*) FILTER (WHERE s.status_code BETWEEN 200 AND 299 AND s.parse_ok) AS parsed
    FROM cc_api_request_log q
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
         AND s.sent_at >= CAST(:now AS timestamptz) - make_interval(mins => :window)
         AND s.sent_at <= :now
    WHERE q.sent_at >= CAST(:now AS timestamptz) - make_interval(mins => :window)
      AND q.sent_at <= :now
    GROUP BY 1, 2
    """
)

_RUNS = text(
    """
    SELECT COALESCE(t.name, r.resource_path) AS template, r.status, count(*) AS runs,
           sum(r.records_landed) AS records, sum(r.retries) AS retries, sum(r.http_429_count) AS throttled,
           sum(r.wait_s) AS wait_s,
           max(extract(epoch FROM r.finished_at)) FILTER (WHERE r.status = 'succeeded') AS last_ok
    FROM cc_sync_run r LEFT JOIN cc_odata_query_template t ON t.id = r.template_id
    GROUP BY 1, 2
    """
)

_LAST_DURATION = text(
    """
    SELECT DISTINCT ON (r.template_id) COALESCE(t.name, r.resource_path) AS template,
           extract(epoch FROM r.finished_at - r.started_at) AS seconds
    FROM cc_sync_run r JOIN cc_odata_query_template t ON t.id = r.template_id
    WHERE r.finished_at IS NOT NULL ORDER BY r.template_id, r.finished_at DESC
    """
)

_SCOPES = text(
    """
    SELECT c.name AS config, s.scope, s."limit", s.remaining FROM cc_rate_limit_state s
    JOIN cc_api_client_config c ON c.id = s.config_id
    """
)


class DatabaseCollector(Collector):
    """Every series, from one short read-only transaction per scrape."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            window = {"window": WINDOW_MINUTES, "now": self.clock()}
            requests = conn.execute(_REQUESTS, window).all()
            runs = conn.execute(_RUNS).all()
            durations = conn.execute(_LAST_DURATION).all()
            scopes = conn.execute(_SCOPES).all()
        yield from _request_metrics(requests)
        yield from _run_metrics(runs, durations)
        remaining = GaugeMetricFamily(
            "cc_rate_limit_remaining",
            "Requests left in the scope's window, as last seen.",
            labels=["config", "scope"],
        )
        limit = GaugeMetricFamily(
            "cc_rate_limit_limit", "The scope's limit, as last seen.", labels=["config", "scope"]
        )
        for s in scopes:
            if s.remaining is not None:
                remaining.add_metric([s.config, s.scope], s.remaining)
            if s.limit is not None:
                limit.add_metric([s.config, s.scope], s.limit)
        yield remaining
        yield limit


def _request_metrics(rows: Sequence[Any]) -> Iterator[Metric]:
    window = f"{WINDOW_MINUTES}m"
    requests = GaugeMetricFamily(
        "cc_requests_recent",
        f"Request attempts sent in the last {window}, by endpoint and status.",
        labels=["endpoint", "code"],
    )
    throttled = GaugeMetricFamily(
        "cc_http_429_recent",
        f"429 responses in the last {window}, by endpoint.",
        labels=["endpoint"],
    )
    parse_ok = GaugeMetricFamily(
        "cc_parse_ok_ratio",
        f"Share of 2xx responses that parsed, last {window}, by endpoint.",
        labels=["endpoint"],
    )
    per_endpoint: dict[str, list[int]] = {}
    for r in rows:
        requests.add_metric([r.endpoint_path, r.code], r.n)
        if r.code == "429":
            throttled.add_metric([r.endpoint_path], r.n)
        totals = per_endpoint.setdefault(r.endpoint_path, [0, 0])
        totals[0] += r.ok_2xx
        totals[1] += r.parsed
    for endpoint, (ok_2xx, parsed) in sorted(per_endpoint.items()):
        if ok_2xx:
            parse_ok.add_metric([endpoint], parsed / ok_2xx)
    yield requests
    yield throttled
    yield parse_ok


def _run_metrics(rows: Sequence[Any], durations: Sequence[Any]) -> Iterator[Metric]:
    runs = GaugeMetricFamily(
        "cc_runs", "Sync runs by template and outcome.", labels=["template", "status"]
    )
    records = CounterMetricFamily(
        "cc_records_landed", "Records landed by runs.", labels=["template"]
    )
    retries = CounterMetricFamily("cc_retries", "Retried attempts.", labels=["template"])
    throttled = CounterMetricFamily("cc_run_http_429", "429s met by runs.", labels=["template"])
    waited = CounterMetricFamily(
        "cc_rate_limit_wait_seconds", "Time runs waited on limits.", labels=["template"]
    )
    last_ok = GaugeMetricFamily(
        "cc_last_success_timestamp_seconds",
        "When the template last synced successfully.",
        labels=["template"],
    )
    sums: dict[str, list[float]] = {}
    for r in rows:
        runs.add_metric([r.template, r.status], r.runs)
        total = sums.setdefault(r.template, [0, 0, 0, 0, 0])
        total[0] += r.records or 0
        total[1] += r.retries or 0
        total[2] += r.throttled or 0
        total[3] += r.wait_s or 0
        total[4] = max(total[4], float(r.last_ok or 0))
    for template, (landed, retried, limited, wait, ok_at) in sorted(sums.items()):
        records.add_metric([template], landed)
        retries.add_metric([template], retried)
        throttled.add_metric([template], limited)
        waited.add_metric([template], wait)
        if ok_at:
            last_ok.add_metric([template], ok_at)
    duration = GaugeMetricFamily(
        "cc_run_duration_seconds", "Duration of the last finished run.", labels=["template"]
    )
    for d in durations:
        duration.add_metric([d.template], float(d.seconds))
    yield from (runs, records, retries, throttled, waited, last_ok, duration)


def serve_metrics(
    engine: Engine,
    host: str,
    port: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[Any, threading.Thread]:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; returns (server, thread).

    ``clock`` says when "the last 15 minutes" end (the wall clock, but for tests).
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(engine, clock))
    return start_http_server(port, addr=host, registry=registry)
