"""The audit browser's filter language selects the right rows, page by page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from cc_console.store.audit_query import AuditFilterError, audit_page, parse_audit_filter
from cc_console.store.database import Database
from tests.clock import FIRST_OF_MONTH, partitions_at
from tests.store.test_schema import insert_config, insert_run

# the first minutes of a month: the day-old rows sit in the month before
NOW = FIRST_OF_MONTH
# (minutes ago, endpoint, method, status or None, error kind or None, run index)
ROWS = [
    (5, "/subjects/odata", "GET", 200, None, 0),
    (10, "/subjects/odata", "GET", 429, "http_429", 0),
    (15, "/studies/odata", "GET", 503, "http_503", 1),
    (20, "/studies/odata", "GET", 200, None, 1),
    (30, "/sites/odata", "POST", 500, "http_500", 1),
    (45, "/sites/odata", "GET", None, "timeout", 0),
    (90, "/subjects/odata", "GET", 200, None, 0),
    (60 * 30, "/subjects/odata", "GET", 200, None, 0),  # 30 hours ago: outside the default
]


@pytest.fixture
def seeded(database: Database):  # type: ignore[no-untyped-def]
    with database.engine.begin() as conn:
        partitions_at(conn, NOW)
        config = insert_config(conn)
        runs = [insert_run(conn, config), insert_run(conn, config)]
        for minutes, endpoint, method, status, kind, run in ROWS:
            sent = NOW - timedelta(minutes=minutes)
            request = conn.execute(
                text(
                    "INSERT INTO cc_api_request_log (sent_at, config_id, run_id, method, url,"
                    " endpoint_path) VALUES (:s, :c, :r, :m, :u, :e) RETURNING id"
                ),
                {
                    "s": sent,
                    "c": config,
                    "r": runs[run],
                    "m": method,
                    "e": endpoint,
                    "u": f"https://api.example.test/api/v1{endpoint}?$top=10",
                },
            ).scalar_one()
            if status is not None:
                conn.execute(
                    text(
                        "INSERT INTO cc_api_response_log (sent_at, request_id, received_at,"
                        " status_code) VALUES (:s, :q, :s, :st)"
                    ),
                    {"s": sent, "q": request, "st": status},
                )
            if kind is not None:
                conn.execute(
                    text(
                        "INSERT INTO cc_error_event (kind, retryable, message, request_id,"
                        " request_sent_at) VALUES (:k, true, 'x', :q, :s)"
                    ),
                    {"k": kind, "q": request, "s": sent},
                )
    return database, runs


def select(seeded, query: str) -> list[int]:  # type: ignore[no-untyped-def]
    database, _ = seeded
    with database.engine.connect() as conn:
        rows, _ = audit_page(conn, parse_audit_filter(query), now=NOW, limit=1000)
    ages = {round((NOW - r["sent_at"]).total_seconds() / 60) for r in rows}
    return sorted(ages)


@pytest.mark.parametrize(
    ("query", "minutes"),
    [
        pytest.param("", [5, 10, 15, 20, 30, 45, 90], id="default-24h"),
        pytest.param("since:2d", [5, 10, 15, 20, 30, 45, 90, 1800], id="since-2d"),
        pytest.param("since:1h", [5, 10, 15, 20, 30, 45], id="since-1h"),
        pytest.param("since:1h until:12m", [15, 20, 30, 45], id="window"),
        pytest.param("status:429", [10], id="status"),
        pytest.param("status:5xx", [15, 30], id="status-class"),
        pytest.param("!status:200", [10, 15, 30, 45], id="not-200-keeps-unanswered"),
        pytest.param("endpoint:subjects !status:200", [10], id="endpoint-and-not"),
        pytest.param("method:post", [30], id="method"),
        pytest.param("kind:timeout", [45], id="error-kind"),
        pytest.param("kind:http_429 kind:http_503", [10, 15], id="kinds-or"),
        pytest.param("studies", [15, 20], id="free-text"),
    ],
)
def test_filters(seeded, query, minutes) -> None:  # type: ignore[no-untyped-def]
    assert select(seeded, query) == minutes


def test_run_prefix(seeded) -> None:  # type: ignore[no-untyped-def]
    _, runs = seeded
    assert select(seeded, f"run:{str(runs[1])[:8]}") == [15, 20, 30]


def test_keyset_pages_cover_everything_once(seeded) -> None:  # type: ignore[no-untyped-def]
    database, _ = seeded
    flt = parse_audit_filter("since:2d")
    seen, key = [], None
    with database.engine.connect() as conn:
        while True:
            rows, key = audit_page(conn, flt, now=NOW, limit=3, before=key)
            seen += [r["id"] for r in rows]
            if key is None:
                break
    assert len(seen) == len(set(seen)) == len(ROWS)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("colour:red", "unknown key"),
        ("status:teapot", "status is a code"),
        ("since:soon", "duration"),
        ("!since:1h", "cannot be negated"),
        ("!word", "negate"),
        ("run:zz", "run takes"),
        ("status:", "missing value"),
    ],
)
def test_bad_terms_are_named(query, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuditFilterError, match=message) as info:
        parse_audit_filter(query)
    assert str(info.value).startswith(query.split()[0])
