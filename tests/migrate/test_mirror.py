"""The dual-write mirror on its own: what it writes, and how it counts what it could not."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from cc_console.migrate.mirror import LegacyMirror
from cc_console.store.audit import ResponseFields

AT = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
HEADERS = {"accept": "application/json", "x-apikey": "***sha256:0123abcd"}


def answered(status: int = 200, body: bytes = b'{"value": []}') -> ResponseFields:
    return ResponseFields(status, {"content-type": "application/json"}, body, None, 12.6)


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM api_call_log").fetchone()[0]  # type: ignore[index]


def test_rows_arrive_in_the_legacy_format(empty_legacy) -> None:  # type: ignore[no-untyped-def]
    mirror = LegacyMirror(empty_legacy, "cc-console/t")
    mirror.record(AT, "https://h/api/v1/sites/odata?$top=5", HEADERS, answered())
    mirror.record(AT, "https://h/api/v1/sites/odata?$top=5", HEADERS, None)  # never answered
    assert mirror.close() == (2, 0)
    with psycopg.connect(empty_legacy) as conn:
        rows = conn.execute(
            "SELECT called_at, client_name, method, response_status, response_body, duration_ms"
            " FROM api_call_log ORDER BY id"
        ).fetchall()
    assert rows == [
        (AT.replace(tzinfo=None), "cc-console/t", "GET", 200, '{"value": []}', 13),
        (AT.replace(tzinfo=None), "cc-console/t", "GET", None, None, None),
    ]


def test_a_missing_table_is_counted_with_its_reason(pg_server, empty_legacy) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(empty_legacy) as conn:
        conn.execute("DROP TABLE api_call_log")
    mirror = LegacyMirror(empty_legacy, "cc-console/t")
    for _ in range(3):
        mirror.record(AT, "https://h/x", HEADERS, answered())
    assert mirror.close() == (0, 3)
    assert mirror.problem is not None and "api_call_log" in mirror.problem


def test_a_stuck_legacy_database_costs_the_close_timeout_not_more(empty_legacy) -> None:  # type: ignore[no-untyped-def]
    blocker = psycopg.connect(empty_legacy)
    blocker.execute("LOCK TABLE api_call_log IN ACCESS EXCLUSIVE MODE")  # held until rollback
    try:
        mirror = LegacyMirror(
            empty_legacy, "cc-console/t", queue_size=5, statement_timeout_ms=60_000
        )
        for _ in range(20):  # the queue holds 5: the rest are counted at once, never waited for
            mirror.record(AT, "https://h/x", HEADERS, answered())
        written, failed = mirror.close(timeout_s=0.5)
        assert (written, failed) == (0, 20)
        assert mirror.problem is not None
    finally:
        blocker.rollback()
        blocker.close()
    # the stuck batch may land once the lock is gone; the counts close() returned stand
    assert mirror.close(timeout_s=5) == (0, 20)
