"""Partition maintenance: months ahead are created, months past retention dropped, FKs intact."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, text

from cc_console.store.database import Database
from cc_console.store.partitions import (
    add_months,
    apply_plan,
    existing_months,
    month_start,
    partition_name,
    plan_maintenance,
)
from tests.clock import EDGES, LAST_OF_MONTH, NEW_YEARS_EVE
from tests.store.test_schema import insert_config, insert_request, insert_response, insert_run


def _six_months_of_rows(conn: Connection, now: datetime) -> dict[date, int]:
    """Two requests (+responses, an error event, a validation and a Silver history row) in each
    of six months."""
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
            conn.execute(
                text(
                    "INSERT INTO cc_silver_history (config_id, resource_path, record_key,"
                    " payload, payload_hash, valid_from, valid_to, response_id, response_sent_at,"
                    " replaced_by_response_id, replaced_by_response_sent_at) VALUES (:c,"
                    " '/studies', :k, '{}', repeat('0', 64), :s, :s, :rs, :s, :rs, :s)"
                ),
                {"rs": response_id, "s": sent, "c": config_id, "k": str(request_id)},
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


@pytest.mark.parametrize("now", EDGES)
def test_retention_drops_whole_old_months_and_keeps_fks(database: Database, now: datetime) -> None:
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
        # history rows survive too; their links into dropped months are cleared
        assert conn.scalar(text("SELECT count(*) FROM cc_silver_history")) == 12
        history_links = conn.execute(
            text(
                "SELECT count(response_id), count(response_sent_at),"
                " count(replaced_by_response_id), count(replaced_by_response_sent_at)"
                " FROM cc_silver_history"
            )
        ).one()
        assert set(history_links) == {2 * len(kept)}
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


@pytest.mark.parametrize("now", EDGES)
def test_months_ahead_are_created(database: Database, now: datetime) -> None:
    with database.engine.begin() as conn:
        apply_plan(conn, plan_maintenance(conn, now=now, months_ahead=6))
        months = existing_months(conn)
        responses = existing_months(conn, "cc_api_response_log")
    assert months == responses
    assert add_months(month_start(now.date()), 6) in months


@pytest.mark.parametrize("last", [LAST_OF_MONTH, NEW_YEARS_EVE], ids=["month", "year"])
def test_the_last_millisecond_of_a_month_lands_in_that_month(
    database: Database, last: datetime
) -> None:
    first = last + timedelta(milliseconds=1)
    with database.engine.begin() as conn:
        apply_plan(conn, plan_maintenance(conn, now=last, months_ahead=1))
        config = insert_config(conn)
        ids = {insert_request(conn, config, at): at for at in (last, first)}
        where = dict(
            conn.execute(text("SELECT id, tableoid::regclass::text FROM cc_api_request_log")).all()
        )
    assert {where[i]: at for i, at in ids.items()} == {
        partition_name("cc_api_request_log", month_start(last.date())): last,
        partition_name("cc_api_request_log", month_start(first.date())): first,
    }


def _months_without_partition(conn: Connection) -> date:
    """A month two after the newest partition: neither it nor the one before it exists."""
    return add_months(max(existing_months(conn)), 2)


def _linked_rows_at(conn: Connection, sent: datetime) -> dict[str, object]:
    """A request with its response, a validation, an error event and a Silver row pointing at
    them — what an engine writes for one page."""
    config = insert_config(conn, name=f"c-{sent:%Y%m%d%H%M%S%f}")
    run = insert_run(conn, config)
    request = insert_request(conn, config, sent, run)
    response = insert_response(conn, request, sent, status=429)
    keys = {"rq": request, "rs": response, "s": sent, "run": run, "c": config}
    event = conn.execute(
        text(
            "INSERT INTO cc_error_event (kind, retryable, message, config_id, run_id, request_id,"
            " request_sent_at, response_id, response_sent_at)"
            " VALUES ('http_429', true, 'slow down', :c, :run, :rq, :s, :rs, :s) RETURNING id"
        ),
        keys,
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO cc_schema_validation (response_id, response_sent_at, resource_path,"
            " schema_name, schema_version, ok) VALUES (:rs, :s, '/studies/odata', 'study', '1',"
            " true)"
        ),
        keys,
    )
    conn.execute(
        text(
            "INSERT INTO cc_silver_record (config_id, resource_path, record_key, payload,"
            " payload_hash, first_run_id, last_run_id, last_response_id, last_response_sent_at)"
            " VALUES (:c, '/studies', :k, '{}', repeat('0', 64), :run, :run, :rs, :s)"
        ),
        {**keys, "k": str(request)},
    )
    conn.execute(  # a replaced version, written and replaced by this page
        text(
            "INSERT INTO cc_silver_history (config_id, resource_path, record_key, payload,"
            " payload_hash, valid_from, valid_to, run_id, response_id, response_sent_at,"
            " replaced_by_run_id, replaced_by_response_id, replaced_by_response_sent_at)"
            " VALUES (:c, '/studies', :k, '{}', repeat('0', 64), :s, :s, :run, :rs, :s, :run,"
            " :rs, :s)"
        ),
        {**keys, "k": str(request)},
    )
    return {**keys, "event": event}


def _links(conn: Connection) -> set[tuple[object, ...]]:
    """Every reference into the logs, joined to where its target row lives."""
    return set(
        conn.execute(
            text(
                "SELECT 'event', e.id, q.tableoid::regclass::text, s.tableoid::regclass::text"
                " FROM cc_error_event e"
                " JOIN cc_api_request_log q ON (q.id, q.sent_at) = (e.request_id, e.request_sent_at)"
                " JOIN cc_api_response_log s"
                " ON (s.id, s.sent_at) = (e.response_id, e.response_sent_at)"
                " UNION ALL SELECT 'validation', v.response_id, s.tableoid::regclass::text, ''"
                " FROM cc_schema_validation v JOIN cc_api_response_log s"
                " ON (s.id, s.sent_at) = (v.response_id, v.response_sent_at)"
                " UNION ALL SELECT 'silver', r.last_response_id, s.tableoid::regclass::text, ''"
                " FROM cc_silver_record r JOIN cc_api_response_log s"
                " ON (s.id, s.sent_at) = (r.last_response_id, r.last_response_sent_at)"
                " UNION ALL SELECT 'history', h.response_id, s.tableoid::regclass::text, ''"
                " FROM cc_silver_history h JOIN cc_api_response_log s"
                " ON (s.id, s.sent_at) = (h.response_id, h.response_sent_at)"
                " UNION ALL SELECT 'replaced', h.replaced_by_response_id,"
                " s.tableoid::regclass::text, '' FROM cc_silver_history h"
                " JOIN cc_api_response_log s ON (s.id, s.sent_at)"
                " = (h.replaced_by_response_id, h.replaced_by_response_sent_at)"
            )
        ).all()
    )


def test_the_first_rows_of_a_new_month_land_in_default_and_move_into_it(
    database: Database,
) -> None:
    with database.engine.begin() as conn:
        month = _months_without_partition(conn)
        first_instant = datetime(month.year, month.month, 1, tzinfo=UTC)
        # the month's very first insert, before any maintenance knew of the month
        fresh = _linked_rows_at(conn, first_instant)
        _linked_rows_at(conn, first_instant + timedelta(days=3, hours=5))
        ancient = _linked_rows_at(conn, datetime(2001, 3, 4, tzinfo=UTC))  # stays in DEFAULT
        before = _links(conn)
        assert {row[2] for row in before} == {
            "cc_api_request_log_default",
            "cc_api_response_log_default",
        }
        counts = {
            table: conn.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in (
                "cc_api_request_log",
                "cc_api_response_log",
                "cc_error_event",
                "cc_schema_validation",
                "cc_silver_record",
                "cc_silver_history",
            )
        }

    with database.engine.begin() as conn:
        plan = plan_maintenance(conn, now=first_instant + timedelta(days=4), months_ahead=0)
        assert plan.move_from_default == {month: 2}
        apply_plan(conn, plan)
    assert month in plan.create and add_months(month, -1) in plan.create  # the gap too
    assert plan.move_from_default == {month: 2}

    with database.engine.connect() as conn:
        after = _links(conn)
        assert {table: conn.scalar(text(f"SELECT count(*) FROM {table}")) for table in counts} == (
            counts
        )
        request_home = partition_name("cc_api_request_log", month)
        response_home = partition_name("cc_api_response_log", month)
        assert {(kind, ident) for kind, ident, *_ in after} == {
            (kind, ident) for kind, ident, *_ in before
        }
        moved = {row for row in after if not row[2].endswith("_default")}
        assert {row[2:] for row in moved} == {
            (request_home, response_home),
            (response_home, ""),
        }
        assert (
            "event",
            ancient["event"],
            "cc_api_request_log_default",
            "cc_api_response_log_default",
        ) in after
        assert ("event", fresh["event"], request_home, response_home) in after
        assert conn.scalar(text("SELECT count(*) FROM cc_api_request_log_default")) == 1


def test_every_foreign_key_into_the_logs_is_one_maintenance_knows(database: Database) -> None:
    """Moving or dropping a month handles these references; a new one must be added there."""
    with database.engine.connect() as conn:
        referencing = conn.execute(
            text(
                "SELECT c.conrelid::regclass::text, array_agg(a.attname ORDER BY k.n)"
                " FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY"
                " AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid"
                " AND a.attnum = k.attnum"
                " WHERE c.contype = 'f' AND c.conparentid = 0 AND c.confrelid IN"
                " ('cc_api_request_log'::regclass, 'cc_api_response_log'::regclass)"
                " GROUP BY c.oid, 1 ORDER BY 1, 2"
            )
        ).all()
        silver_key = conn.scalars(
            text(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey)"
                " WHERE i.indrelid = 'cc_silver_record'::regclass AND i.indisprimary"
            )
        ).all()
    assert [(table, tuple(columns)) for table, columns in referencing] == [
        ("cc_api_response_log", ("request_id", "sent_at")),
        ("cc_error_event", ("request_id", "request_sent_at")),
        ("cc_error_event", ("response_id", "response_sent_at")),
        ("cc_schema_validation", ("response_id", "response_sent_at")),
    ]  # Silver's lineage link (last_response_id) is no foreign key, but is moved the same way
    assert sorted(silver_key) == [
        "config_id",
        "record_key",
        "resource_path",
    ]  # how a link is put back


def test_cli_maintain_moves_rows_out_of_default(cli, db_url) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    with engine.begin() as conn:
        # nine months ahead of whatever today is: no partition yet, inside --months-ahead 10
        far = add_months(month_start(datetime.now(UTC).date()), 9)
        _linked_rows_at(conn, datetime(far.year, far.month, 2, tzinfo=UTC))
    dry = cli("db", "maintain", "--months-ahead", "10", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert f"would create month {far:%Y-%m} (would move its 1 request rows" in dry.stdout
    done = cli("db", "maintain", "--months-ahead", "10", "--json")
    assert json.loads(done.stdout)["move_from_default"] == {f"{far:%Y-%m}": 1}
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_api_request_log_default")) == 0
        assert len(_links(conn)) == 5
    engine.dispose()


def test_cli_maintain_dry_run_changes_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("db", "maintain", "--months-ahead", "8", "--dry-run", "--json")
    assert first.exit_code == 0, first.stderr
    planned = json.loads(first.stdout)
    assert planned["dry_run"] is True and len(planned["create"]) >= 5
    second = cli("db", "maintain", "--months-ahead", "8", "--json")
    assert json.loads(second.stdout)["create"] == planned["create"]
    third = cli("db", "maintain", "--months-ahead", "8")
    assert third.exit_code == 0 and "nothing to do" in third.stdout
