"""Scraping /metrics over a real socket: series read from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from cc_console.reports.metrics import serve_metrics
from tests.tui.seed import uid

from .seed import NOW, Writer, seed_reports


def scrape(database) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:  # type: ignore[no-untyped-def]
    server, thread = serve_metrics(database.engine, "127.0.0.1", 0, clock=lambda: NOW)
    try:
        body = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        thread.join(timeout=5)
    series: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            series.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return series


def test_run_level_series(database) -> None:
    seed_reports(database)
    series = scrape(database)
    assert series["cc_runs"][(("status", "succeeded"), ("template", "studies"))] == 3
    assert series["cc_runs"][(("status", "partial"), ("template", "studies"))] == 1
    assert series["cc_records_landed_total"][(("template", "studies"),)] == 3500
    assert series["cc_run_http_429_total"][(("template", "studies"),)] == 7
    assert series["cc_rate_limit_wait_seconds_total"][(("template", "studies"),)] == 14.0
    last_ok = datetime(2026, 11, 26, 9, 0, 40, tzinfo=UTC).timestamp()
    assert series["cc_last_success_timestamp_seconds"][(("template", "studies"),)] == last_ok
    assert series["cc_run_duration_seconds"][(("template", "studies"),)] == 40


def test_recent_request_series_and_scopes(database) -> None:
    seed_reports(database)
    with database.engine.begin() as conn:
        writer = Writer(conn)
        writer.n = 1000  # ids after the seed's
        a_minute_ago = NOW - timedelta(minutes=1)
        writer.request(uid(602), "/patients/odata", a_minute_ago)
        writer.request(uid(602), "/patients/odata", a_minute_ago, None)
        conn.execute(
            text(
                'INSERT INTO cc_rate_limit_state (config_id, scope, "limit", remaining, updated_at)'
                " SELECT id, 'global', 10, 3, now() FROM cc_api_client_config"
            )
        )
    series = scrape(database)
    recent = series["cc_requests_recent"]
    assert recent[(("code", "200"), ("endpoint", "/patients/odata"))] == 1
    # unanswered: this one and the seed's running run's request in flight since 11:59:30
    assert recent[(("code", "none"), ("endpoint", "/patients/odata"))] == 2
    assert not any(dict(k)["endpoint"] == "/studies/odata" for k in recent)  # days ago
    assert series["cc_parse_ok_ratio"][(("endpoint", "/patients/odata"),)] == 1.0
    assert series["cc_rate_limit_remaining"][(("config", "acme"), ("scope", "global"))] == 3
    assert series["cc_rate_limit_limit"][(("config", "acme"), ("scope", "global"))] == 10


def test_metrics_cli_refuses_a_busy_port(cli) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = cli("metrics", "--port", str(busy.getsockname()[1]))
    assert result.exit_code == 2 and "choose another --port" in result.stderr
