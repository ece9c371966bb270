"""The dual-write's parts on their own: the legacy writer's format and failures, and the log
follower that copies a run's committed attempts (in flight ones only once they are final)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import psycopg
from sqlalchemy import text

from cc_console.errors import ErrorKind
from cc_console.migrate.follower import LegacyFollower
from cc_console.migrate.mirror import LegacyWriter
from cc_console.store.audit_log import (
    LoggedAttempt,
    ResponseFields,
    insert_response,
    write_failure,
    write_request,
)
from cc_console.store.configs import load_config
from tests.store.test_schema import insert_config, insert_run

AT = datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC)
HEADERS = {"accept": "application/json", "x-apikey": "***sha256:0123abcd"}


def attempt(status: int | None = 200, body: str | None = '{"value": []}') -> LoggedAttempt:
    return LoggedAttempt(
        id=uuid.uuid4(),
        sent_at=AT,
        method="GET",
        url="https://h/api/v1/sites/odata?$top=5",
        headers=HEADERS,
        status_code=status,
        response_headers={"content-type": "application/json"} if status else None,
        body=body if status else None,
        elapsed_ms=12.6 if status else None,
        final=True,
    )


def legacy(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_rows_arrive_in_the_legacy_format(empty_legacy) -> None:  # type: ignore[no-untyped-def]
    writer = LegacyWriter(empty_legacy, "cc-console/t")
    assert writer.write([attempt(), attempt(status=None)]) == (2, None)  # one never answered
    writer.close()
    rows = legacy(
        empty_legacy,
        "SELECT called_at, client_name, method, response_status, response_body, duration_ms"
        " FROM api_call_log ORDER BY id",
    )
    assert rows == [
        (AT.replace(tzinfo=None), "cc-console/t", "GET", 200, '{"value": []}', 13),
        (AT.replace(tzinfo=None), "cc-console/t", "GET", None, None, None),
    ]


def test_a_missing_table_is_counted_with_its_reason(empty_legacy) -> None:  # type: ignore[no-untyped-def]
    with psycopg.connect(empty_legacy) as conn:
        conn.execute("DROP TABLE api_call_log")
    writer = LegacyWriter(empty_legacy, "cc-console/t")
    written, reason = writer.write([attempt() for _ in range(3)])
    assert written == 0 and reason is not None and "api_call_log" in reason


async def _dual_writing_run(database, aengine, legacy_url: str):  # type: ignore[no-untyped-def]
    with database.engine.begin() as conn:
        config_id = insert_config(conn, "dw", dual_write_legacy=True, legacy_url=legacy_url)
        run_id = insert_run(conn, config_id)
        started = conn.execute(
            text("SELECT started_at FROM cc_sync_run WHERE id = :r"), {"r": run_id}
        ).scalar_one()
    async with aengine.connect() as conn:
        config = await load_config(conn, config_id)
    return config, run_id, started


async def _request(aengine, config_id, run_id):  # type: ignore[no-untyped-def]
    return await write_request(
        aengine,
        config_id=config_id,
        run_id=run_id,
        template_id=None,
        method="GET",
        url="https://api.example.test/x",
        endpoint_path="/x",
        query_params={},
        headers=HEADERS,
        attempt_no=1,
        key_fingerprint=None,
    )


def _answer(status: int = 200) -> ResponseFields:
    return ResponseFields(status, {"content-type": "application/json"}, b'{"items": []}', None, 5.0)


async def test_the_follower_copies_final_attempts_and_waits_for_the_rest(
    database, aengine, empty_legacy
) -> None:  # type: ignore[no-untyped-def]
    config, run_id, _ = await _dual_writing_run(database, aengine, empty_legacy)
    follower = LegacyFollower(aengine, config, poll_s=0.01)
    await follower.watch(run_id)
    answered = await _request(aengine, config.id, run_id)
    async with aengine.begin() as conn:
        await insert_response(conn, answered, _answer())
    timed_out = await _request(aengine, config.id, run_id)
    await write_failure(
        aengine,
        request=timed_out,
        response=None,
        kind=ErrorKind.TIMEOUT,
        retryable=True,
        message="ReadTimeout",
        status_code=None,
        endpoint_path="/x",
        config_id=config.id,
        run_id=run_id,
    )
    in_flight = await _request(aengine, config.id, run_id)  # fetched ahead, never landed
    deadline = time.monotonic() + 10
    while len(legacy(empty_legacy, "SELECT id FROM api_call_log")) < 2:
        assert time.monotonic() < deadline, "the follower never copied the final attempts"
        await asyncio.sleep(0.01)
    later = follower.rounds + 3
    while follower.rounds < later:  # whole rounds of the follower: the in-flight one waits
        await asyncio.sleep(0.01)
    assert len(legacy(empty_legacy, "SELECT id FROM api_call_log")) == 2
    assert await follower.finish(run_id) == (3, 0)  # the run ended: copied unanswered
    await follower.aclose()
    statuses = [
        r[0] for r in legacy(empty_legacy, "SELECT response_status FROM api_call_log ORDER BY id")
    ]
    assert statuses == [200, None, None]
    with database.engine.connect() as conn:
        counts = conn.execute(
            text("SELECT legacy_writes, legacy_write_failures FROM cc_sync_run WHERE id = :r"),
            {"r": run_id},
        ).one()
    assert tuple(counts) == (3, 0)
    assert in_flight.id not in {answered.id, timed_out.id}


async def test_a_stuck_legacy_database_costs_the_catch_up_timeout_not_more(
    database, aengine, empty_legacy
) -> None:  # type: ignore[no-untyped-def]
    config, run_id, _ = await _dual_writing_run(database, aengine, empty_legacy)
    blocker = psycopg.connect(empty_legacy)
    blocker.execute("LOCK TABLE api_call_log IN ACCESS EXCLUSIVE MODE")  # held until rollback
    try:
        writer = LegacyWriter(empty_legacy, "cc-console/dw", statement_timeout_ms=60_000)
        follower = LegacyFollower(aengine, config, writer=writer, poll_s=3600)
        await follower.watch(run_id)
        for _ in range(20):
            request = await _request(aengine, config.id, run_id)
            async with aengine.begin() as conn:
                await insert_response(conn, request, _answer())
        started = time.monotonic()
        assert await follower.finish(run_id, timeout_s=0.5) == (0, 20)
        assert time.monotonic() - started < 5
        await follower.aclose()
    finally:
        blocker.rollback()
        blocker.close()
    with database.engine.connect() as conn:
        counts = conn.execute(
            text("SELECT legacy_writes, legacy_write_failures FROM cc_sync_run WHERE id = :r"),
            {"r": run_id},
        ).one()
        message = conn.execute(
            text("SELECT message FROM cc_error_event WHERE kind = 'legacy_write'")
        ).scalar_one()
    assert tuple(counts) == (0, 20)
    assert message.startswith("20 of 20 attempts not written to the legacy store")
