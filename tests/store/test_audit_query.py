"""The audit browser's filter language selects the right rows, page by page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
        ("run:zz", "a run id is 4 to 32 hex digits"),
        ("run:" + "a" * 36, "a run id is 4 to 32 hex digits"),
        ("run:3f2a9c1e-12", "a run id is 4 to 32 hex digits"),
        ("status:²", "status is a code"),
        ("status:4290", "status is a code"),
        ("since:1000000000d", "duration"),
        ("since:100000000d", "at most 3660d"),
        ("since:٣h", "duration"),  # an Arabic-Indic digit is no ASCII digit
        ("status:", "missing value"),
    ],
)
def test_bad_terms_are_named(query, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuditFilterError, match=message) as info:
        parse_audit_filter(query)
    assert str(info.value).startswith(query.split()[0])


def test_a_full_uuid_with_or_without_dashes_finds_the_run(seeded) -> None:  # type: ignore[no-untyped-def]
    _, runs = seeded
    assert select(seeded, f"run:{runs[1]}") == [15, 20, 30]
    assert select(seeded, f"run:{str(runs[1]).replace('-', '').upper()}") == [15, 20, 30]


AUDIT_WORDS = st.sampled_from(
    ["status:", "run:", "since:", "until:", "endpoint:", "method:", "kind:", "!", "5xx", "429",
     "²", "d", "h", "9" * 12, "0", "ffff", "-", " ", "x", "%", "'", "_", "\\", ":"]
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(AUDIT_WORDS, max_size=12).map("".join) | st.text(max_size=40))
def test_no_filter_text_raises_anything_but_its_own_error(seeded, query: str) -> None:  # type: ignore[no-untyped-def]
    database, _ = seeded  # read only: every example sees the same rows
    try:
        flt = parse_audit_filter(query)
    except AuditFilterError:
        return
    with database.engine.connect() as conn:
        rows, _ = audit_page(conn, flt, now=NOW, limit=5)
    assert len(rows) <= 5


def test_percent_and_underscore_in_a_word_match_themselves(seeded) -> None:  # type: ignore[no-untyped-def]
    assert select(seeded, "_") == []  # no URL holds an underscore; as a wildcard all would match
    assert select(seeded, "%") == []
