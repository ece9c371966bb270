"""The schema refuses what it should: unique keys, CHECKs, foreign keys, partition routing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError

from cc_console.store.database import Database
from cc_console.store.models import Base
from tests.clock import EDGES, MID_MONTH, partitions_at

TABLES = {
    "cc_api_client_config",
    "cc_odata_query_template",
    "cc_pagination_state",
    "cc_rate_limit_state",
    "cc_sync_run",
    "cc_api_request_log",
    "cc_api_response_log",
    "cc_error_event",
    "cc_schema_validation",
    "cc_silver_record",
    "cc_run_seen_key",
    "cc_silver_history",
    "cc_operator_action",
    "cc_worker",
    "cc_audit_chain",
    "cc_audit_seal",
    "cc_audit_amendment",
    "cc_redaction_policy",
    "cc_redaction_key",
}
HASH = "a" * 64


def insert_config(conn: Connection, name: str = "c1", **overrides: object) -> uuid.UUID:
    values = {
        "name": name,
        "base_url": "https://api.example.test/api/v1",
        "secret_ref": "env:CC_TEST_API_KEY",
        "created_by": "t",
        "updated_by": "t",
        **overrides,
    }
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    return conn.execute(
        text(f"INSERT INTO cc_api_client_config ({columns}) VALUES ({params}) RETURNING id"),
        values,
    ).scalar_one()


def insert_run(conn: Connection, config_id: uuid.UUID, **overrides: object) -> uuid.UUID:
    values = {
        "config_id": config_id,
        "resource_path": "/studies/odata",
        "trigger": "manual",
        "created_by": "t",
        **overrides,
    }
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    return conn.execute(
        text(f"INSERT INTO cc_sync_run ({columns}) VALUES ({params}) RETURNING id"), values
    ).scalar_one()


def insert_request(
    conn: Connection, config_id: uuid.UUID, sent_at: datetime, run_id: uuid.UUID | None = None
) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO cc_api_request_log"
            " (sent_at, config_id, run_id, method, url, endpoint_path)"
            " VALUES (:sent_at, :config_id, :run_id, 'GET', 'https://api.example.test/x', '/x')"
            " RETURNING id"
        ),
        {"sent_at": sent_at, "config_id": config_id, "run_id": run_id},
    ).scalar_one()


def insert_response(
    conn: Connection, request_id: uuid.UUID, sent_at: datetime, status: int = 200
) -> uuid.UUID:
    return conn.execute(
        text(
            "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code)"
            " VALUES (:sent_at, :rid, :sent_at, :status) RETURNING id"
        ),
        {"sent_at": sent_at, "rid": request_id, "status": status},
    ).scalar_one()


def refused(
    database: Database, sql: str, params: dict[str, object] | None = None, setup=None
) -> str:  # type: ignore[no-untyped-def]
    """Run ``sql`` in a rolled-back transaction; return the violated constraint's name."""
    with database.engine.connect() as conn:
        trans = conn.begin()
        try:
            extra = setup(conn) if setup else {}
            with pytest.raises(IntegrityError) as info:
                conn.execute(text(sql), {**(params or {}), **extra})
            return info.value.orig.diag.constraint_name  # type: ignore[union-attr]
        finally:
            trans.rollback()


def test_all_twelve_tables_exist(database: Database) -> None:
    names = set(inspect(database.engine).get_table_names())
    assert names >= TABLES
    assert set(Base.metadata.tables) == TABLES


def test_config_name_is_unique(database: Database) -> None:
    def setup(conn: Connection) -> dict[str, object]:
        insert_config(conn, "dup")
        return {}

    name = refused(
        database,
        "INSERT INTO cc_api_client_config (name, base_url, secret_ref, created_by, updated_by)"
        " VALUES ('dup', 'https://b.test', 'env:X', 't', 't')",
        setup=setup,
    )
    assert name == "uq_cc_api_client_config_name"


@pytest.mark.parametrize(
    ("column", "value", "constraint"),
    [
        pytest.param("base_url", "ftp://x.test", "ck_cc_api_client_config_base_url_http", id="ftp"),
        pytest.param(
            "secret_ref",
            "sk_live_123",
            "ck_cc_api_client_config_secret_ref_is_reference",
            id="bare-key",
        ),
        pytest.param(
            "connect_timeout_s", 0, "ck_cc_api_client_config_timeouts_positive", id="timeout-zero"
        ),
        pytest.param(
            "max_retries",
            -1,
            "ck_cc_api_client_config_max_retries_non_negative",
            id="retries-negative",
        ),
        pytest.param(
            "default_page_size", 1001, "ck_cc_api_client_config_page_size_range", id="page-1001"
        ),
        pytest.param(
            "default_page_size", 0, "ck_cc_api_client_config_page_size_range", id="page-0"
        ),
        pytest.param(
            "backoff_jitter", "random", "ck_cc_api_client_config_backoff_jitter_known", id="jitter"
        ),
        pytest.param(
            "max_requests_per_second", 0, "ck_cc_api_client_config_max_rps_positive", id="rps-zero"
        ),
    ],
)
def test_config_checks(database: Database, column: str, value: object, constraint: str) -> None:
    values = {
        "name": "n",
        "base_url": "https://a.test",
        "secret_ref": "env:X",
        "created_by": "t",
        "updated_by": "t",
        column: value,
    }
    columns = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    sql = f"INSERT INTO cc_api_client_config ({columns}) VALUES ({params})"
    assert refused(database, sql, values) == constraint


def test_template_unique_per_config_path_and_params_hash(database: Database) -> None:
    sql = (
        "INSERT INTO cc_odata_query_template (config_id, resource_path, params, params_hash,"
        " filter_hash, created_by, updated_by)"
        " VALUES (:c, '/studies/odata', '{}', :h, :h, 't', 't')"
    )

    def setup(conn: Connection) -> dict[str, object]:
        config_id = insert_config(conn)
        conn.execute(text(sql), {"c": config_id, "h": HASH})
        return {"c": config_id, "h": HASH}

    assert refused(database, sql, setup=setup) == (
        "uq_cc_odata_query_template_config_id_resource_path_params_hash"
    )


def test_pagination_state_unique_and_checks(database: Database) -> None:
    sql = (
        "INSERT INTO cc_pagination_state (config_id, resource_path, filter_hash, page_size,"
        " next_skip, status) VALUES (:c, '/s', :h, :size, :skip, :status)"
    )
    ok = {"h": HASH, "size": 100, "skip": 0, "status": "idle"}

    def setup(conn: Connection) -> dict[str, object]:
        config_id = insert_config(conn)
        conn.execute(text(sql), {**ok, "c": config_id})
        return {"c": config_id}

    assert refused(database, sql, ok, setup=setup) == (
        "uq_cc_pagination_state_config_id_resource_path_filter_hash"
    )

    def fresh(conn: Connection) -> dict[str, object]:
        return {"c": insert_config(conn)}

    assert refused(database, sql, {**ok, "skip": -1}, setup=fresh) == (
        "ck_cc_pagination_state_next_skip_non_negative"
    )
    assert refused(database, sql, {**ok, "status": "done"}, setup=fresh) == (
        "ck_cc_pagination_state_status_known"
    )
    assert refused(database, sql, {**ok, "size": 5000}, setup=fresh) == (
        "ck_cc_pagination_state_page_size_range"
    )


def test_rate_limit_scope_unique_and_known(database: Database) -> None:
    sql = "INSERT INTO cc_rate_limit_state (config_id, scope) VALUES (:c, :scope)"

    def setup(conn: Connection) -> dict[str, object]:
        config_id = insert_config(conn)
        conn.execute(text(sql), {"c": config_id, "scope": "global"})
        return {"c": config_id}

    assert refused(database, sql, {"scope": "global"}, setup=setup) == (
        "uq_cc_rate_limit_state_config_id_scope"
    )
    assert refused(database, sql, {"scope": "per-user"}, setup=setup) == (
        "ck_cc_rate_limit_state_scope_known"
    )


def test_sync_run_status_and_trigger_checks(database: Database) -> None:
    def setup(conn: Connection) -> dict[str, object]:
        return {"c": insert_config(conn)}

    base = (
        "INSERT INTO cc_sync_run (config_id, resource_path, trigger, status, created_by)"
        " VALUES (:c, '/s', :trigger, :status, 't')"
    )
    assert refused(database, base, {"trigger": "manual", "status": "done"}, setup=setup) == (
        "ck_cc_sync_run_status_known"
    )
    assert refused(database, base, {"trigger": "cron", "status": "running"}, setup=setup) == (
        "ck_cc_sync_run_trigger_known"
    )


def test_error_event_kind_check(database: Database) -> None:
    sql = "INSERT INTO cc_error_event (kind, retryable, message) VALUES (:k, false, 'm')"
    assert refused(database, sql, {"k": "oops"}) == "ck_cc_error_event_kind_known"


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        pytest.param(
            "INSERT INTO cc_odata_query_template (config_id, resource_path, params, params_hash,"
            " filter_hash, created_by, updated_by) VALUES (gen_random_uuid(), '/s', '{}', :h, :h,"
            " 't', 't')",
            "fk_cc_odata_query_template_config_id_cc_api_client_config",
            id="template-without-config",
        ),
        pytest.param(
            "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code)"
            " VALUES (now(), gen_random_uuid(), now(), 200)",
            "fk_cc_api_response_log_request_id_sent_at_cc_api_request_log",
            id="response-without-request",
        ),
        pytest.param(
            "INSERT INTO cc_sync_run (config_id, resource_path, trigger, created_by)"
            " VALUES (gen_random_uuid(), '/s', 'manual', 't')",
            "fk_cc_sync_run_config_id_cc_api_client_config",
            id="run-without-config",
        ),
        pytest.param(
            "INSERT INTO cc_error_event (kind, retryable, message, request_id, request_sent_at)"
            " VALUES ('timeout', true, 'm', gen_random_uuid(), now())",
            "fk_cc_error_event_request_id_request_sent_at_cc_api_request_log",
            id="error-without-request",
        ),
    ],
)
def test_foreign_keys_refuse_orphans(database: Database, sql: str, constraint: str) -> None:
    assert refused(database, sql, {"h": HASH}) == constraint


def test_one_response_per_request(database: Database) -> None:
    sent = MID_MONTH

    def setup(conn: Connection) -> dict[str, object]:
        partitions_at(conn, sent)
        request_id = insert_request(conn, insert_config(conn), sent)
        insert_response(conn, request_id, sent)
        return {"rid": request_id, "sent_at": sent}

    sql = (
        "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code)"
        " VALUES (:sent_at, :rid, :sent_at, 200)"
    )
    # the unique key is enforced per partition, so the partition's copy reports it
    assert refused(database, sql, setup=setup).endswith("request_id_sent_at_key")


@pytest.mark.parametrize("now", EDGES)
def test_rows_route_to_their_month_or_default(database: Database, now: datetime) -> None:
    with database.engine.begin() as conn:
        partitions_at(conn, now)
        config_id = insert_config(conn)
        this_month = insert_request(conn, config_id, now)
        insert_response(conn, this_month, now)
        ancient = datetime(2001, 3, 4, tzinfo=UTC)
        old = insert_request(conn, config_id, ancient)
        insert_response(conn, old, ancient)
        where = {
            row.id: row.table
            for row in conn.execute(
                text("SELECT id, tableoid::regclass::text AS table FROM cc_api_request_log")
            )
        }
        responses = set(
            conn.execute(text("SELECT tableoid::regclass::text FROM cc_api_response_log")).scalars()
        )
    assert where[this_month] == f"cc_api_request_log_p{now.year:04d}_{now.month:02d}"
    assert where[old] == "cc_api_request_log_default"
    assert responses == {
        f"cc_api_response_log_p{now.year:04d}_{now.month:02d}",
        "cc_api_response_log_default",
    }


def test_indexes_of_design_exist(database: Database) -> None:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename LIKE 'cc\\_%'")
        ).all()
    defs = {name: definition for name, definition in rows}
    expected = {
        "ix_cc_api_request_log_run_id_sent_at": "(run_id, sent_at)",
        "ix_cc_api_request_log_endpoint_path_sent_at": "(endpoint_path, sent_at)",
        "ix_cc_api_request_log_query_params": "gin (query_params jsonb_path_ops)",
        "ix_cc_api_response_log_status_code": "(status_code)",
        "ix_cc_api_response_log_headers": "gin (headers jsonb_path_ops)",
        "ix_cc_error_event_occurred_at": "(occurred_at)",
        "ix_cc_pagination_state_last_sync_at": "(last_sync_at)",
        "ix_cc_rate_limit_state_reset_at": "(reset_at)",
        "ix_cc_sync_run_started_at": "(started_at)",
        "ix_cc_sync_run_status": "(status)",
        "ix_cc_schema_validation_resource_path_checked_at": "(resource_path, checked_at)",
    }
    for name, fragment in expected.items():
        assert fragment in defs[name], (name, defs.get(name))
    next_link = defs["ix_cc_api_response_log_next_link"]
    assert "WHERE has_next_link" in next_link and "gin" not in next_link.lower()
    assert not any("gin (body" in d.lower() for d in defs.values()), "no GIN over whole bodies"


async def test_every_session_reads_timestamps_in_utc(database: Database) -> None:
    """Whatever the server's TimeZone (the embedded one takes the TZ of its first start)."""
    with database.engine.connect() as conn:
        assert conn.scalar(text("SELECT current_setting('TimeZone')")) == "UTC"
        assert conn.scalar(text("SELECT now()")).utcoffset().total_seconds() == 0
    engine = database.async_engine()
    try:
        async with engine.connect() as conn:
            zone = (await conn.execute(text("SELECT current_setting('TimeZone')"))).scalar()
        assert zone == "UTC"
    finally:
        await engine.dispose()
