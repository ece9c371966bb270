"""Partition maintenance: months ahead are created, months past retention dropped, FKs intact."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

from cc_console.store.database import Database
from cc_console.store.partitions import (
    add_months,
    apply_plan,
    existing_months,
    month_start,
    plan_maintenance,
)
from tests.store.test_schema import insert_config, insert_request, insert_response


def _six_months_of_rows(conn: Connection, now: datetime) -> dict[date, int]:
    """Two requests (+responses, an error event and a validation) in each of six months."""
    config_id = insert_config(conn)
    months = {}
    for back in range(6):
        month = add_months(month_start(now.date()), -back)
        for day in (3, 17):
            sent = datetime(month.year, month.month, day, 12, tzinfo=UTC)
            if sent > now:
                sent = now - timedelta(minutes=day)
            request_id = insert_request(conn, config_id, sent)
            response_id = insert_response(conn, request_id, sent, status=429)
            conn.execute(
                text(
                    "INSERT INTO cc_error_event (kind, retryable, message, request_id,"
                    " request_sent_at, response_id, response_sent_at)"
                    " VALUES ('http_429', true, 'slow down', :rq, :s, :rs, :s)"
                ),
                {"rq": request_id, "rs": response_id, "s": sent},
            )
            conn.execute(
                text(
                    "INSERT INTO cc_schema_validation (response_id, response_sent_at,"
                    " resource_path, schema_name, schema_version, ok)"
                    " VALUES (:rs, :s, '/studies/odata', 'study', '1', true)"
                ),
                {"rs": response_id, "s": sent},
            )
        months[month] = 2
    return months


def _count_by_month(conn: Connection, table: str) -> dict[date, int]:
    rows = conn.execute(
        text(
            f"SELECT date_trunc('month', sent_at AT TIME ZONE 'UTC')::date, count(*)"
            f" FROM {table} GROUP BY 1"
        )
    ).all()
    return {row[0]: row[1] for row in rows}


def test_retention_drops_whole_old_months_and_keeps_fks(database: Database) -> None:
    now = datetime.now(UTC)
    with database.engine.begin() as conn:
        apply_plan(conn, plan_maintenance(conn, now=now, retention_days=200, months_ahead=3))
        months = _six_months_of_rows(conn, now)
        partitioned = set(existing_months(conn))
        assert set(months) <= partitioned
    cutoff_month = month_start((now - timedelta(days=90)).date())
    expected_dropped = {m for m in partitioned if add_months(m, 1) <= cutoff_month}
    assert set(months) & expected_dropped, "six months back always reaches past 90 days"

    with database.engine.begin() as conn:
        plan = plan_maintenance(conn, now=now, retention_days=90, months_ahead=3)
        assert set(plan.drop) == expected_dropped
        apply_plan(conn, plan)

    with database.engine.connect() as conn:
        kept = set(months) - expected_dropped
        assert set(_count_by_month(conn, "cc_api_request_log")) == kept
        assert set(_count_by_month(conn, "cc_api_response_log")) == kept
        assert not set(existing_months(conn)) & expected_dropped
        # error events survive without their links; validations of dropped months are gone
        assert conn.scalar(text("SELECT count(*) FROM cc_error_event")) == 12
        linked = conn.scalar(
            text("SELECT count(*) FROM cc_error_event WHERE request_id IS NOT NULL")
        )
        assert linked == 2 * len(kept)
        assert conn.scalar(text("SELECT count(*) FROM cc_schema_validation")) == 2 * len(kept)
        orphans = conn.scalar(
            text(
                "SELECT count(*) FROM cc_api_response_log r LEFT JOIN cc_api_request_log q"
                " ON q.id = r.request_id AND q.sent_at = r.sent_at WHERE q.id IS NULL"
            )
        )
        assert orphans == 0

    with database.engine.begin() as conn:  # idempotent
        again = plan_maintenance(conn, now=now, retention_days=90, months_ahead=3)
        assert again.drop == [] and again.create == []


def test_months_ahead_are_created(database: Database) -> None:
    now = datetime.now(UTC)
    with database.engine.begin() as conn:
        apply_plan(conn, plan_maintenance(conn, now=now, months_ahead=6))
        months = existing_months(conn)
        responses = existing_months(conn, "cc_api_response_log")
    assert months == responses
    assert add_months(month_start(now.date()), 6) in months


def test_a_month_with_rows_in_default_is_reported_not_created(database: Database) -> None:
    now = datetime.now(UTC)
    far = add_months(month_start(now.date()), 9)
    with database.engine.begin() as conn:
        insert_request(conn, insert_config(conn), datetime(far.year, far.month, 2, tzinfo=UTC))
        plan = plan_maintenance(conn, now=now, months_ahead=10)
        apply_plan(conn, plan)
    assert plan.blocked == {far: 1}
    assert far not in plan.create


def test_cli_maintain_dry_run_changes_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("db", "maintain", "--months-ahead", "8", "--dry-run", "--json")
    assert first.exit_code == 0, first.stderr
    planned = json.loads(first.stdout)
    assert planned["dry_run"] is True and len(planned["create"]) >= 5
    second = cli("db", "maintain", "--months-ahead", "8", "--json")
    assert json.loads(second.stdout)["create"] == planned["create"]
    third = cli("db", "maintain", "--months-ahead", "8")
    assert third.exit_code == 0 and "nothing to do" in third.stdout
