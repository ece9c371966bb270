"""Typed Silver views: columns and types from information_schema, casts that fail to NULL and
are counted, soft deletes, drift, long names, and the PostgreSQL 14–15 safe-cast functions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from cc_console.odata.csdl import parse_metadata
from cc_console.odata.resources import RESOURCE_SCHEMAS
from cc_console.sim.odata4.model import csdl
from cc_console.store.database import Database
from cc_console.store.silver_views import ViewResult, refresh_views, view_specs
from tests.store.silver_seed import add_config, add_template, cc_tenant, land, odata_service

EDM = {  # the table, written out again here so the test does not read the code's
    "Edm.Int32": "integer",
    "Edm.Int64": "bigint",
    "Edm.Decimal": "numeric",
    "Edm.Double": "double precision",
    "Edm.Boolean": "boolean",
    "Edm.Date": "date",
    "Edm.DateTimeOffset": "timestamp with time zone",
    "Edm.Guid": "uuid",
    "Edm.String": "text",
}
LINEAGE = [
    ("_landed_at", "timestamp with time zone"),
    ("_run_id", "uuid"),
    ("_response_id", "uuid"),
    ("_deleted_at", "timestamp with time zone"),
]


def columns(engine: Engine, view: str, schema: str = "silver") -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.column_name, r.data_type)
            for r in conn.execute(
                text(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = :s AND table_name = :v ORDER BY ordinal_position"
                ),
                {"s": schema, "v": view},
            )
        ]


def rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def refresh(database: Database, **kwargs: Any) -> dict[str, ViewResult]:
    with database.engine.connect() as conn:
        specs = view_specs(conn)
    return {r.spec.name: r for r in refresh_views(database.engine, specs, **kwargs)}


def test_a_view_per_builtin_resource_and_odata4_set(database: Database) -> None:
    cc_tenant(database.engine)
    odata_service(database.engine)
    results = refresh(database)
    assert {r.action for r in results.values()} == {"created"}
    assert columns(database.engine, "tenant__sites") == [
        ("id", "integer"),
        *LINEAGE,
        ("uid", "uuid"),
        ("name", "text"),
        ("active", "boolean"),
        ("alternate_name", "text"),
        ("city", "text"),
        ("country", "text"),
        ("time_zone", "text"),
        ("observes_dst", "boolean"),
        ("organization", "text"),
        ("created_on", "timestamp with time zone"),
    ]
    subjects = dict(columns(database.engine, "tenant__subjects"))
    assert subjects["study"] == "jsonb" and subjects["enrollment_date"].startswith("timestamp")
    for resource in RESOURCE_SCHEMAS:
        name = f"tenant__{resource.replace('-', '_')}"
        assert columns(database.engine, name)[:5] == [("id", "integer"), *LINEAGE]
        assert columns(database.engine, f"{name}__all") == columns(database.engine, name)
    for set_name, entity_set in parse_metadata(csdl().encode()).items():
        snake = {"OrderLines": "order_lines", "PriorityOrders": "priority_orders"}
        view = f"acc__{snake.get(set_name, set_name.lower())}"
        got = columns(database.engine, view)
        key_count = len(entity_set.key)
        assert [t for _, t in got[:key_count]] == [
            EDM[entity_set.properties[k]] for k in entity_set.key
        ]
        assert got[key_count : key_count + 4] == LINEAGE
        assert sorted(t for _, t in got[key_count + 4 :]) == sorted(
            EDM[t] for p, t in entity_set.properties.items() if p not in entity_set.key
        )
    assert [c for c, _ in columns(database.engine, "acc__order_lines")][:2] == [
        "order_id",
        "line_number",
    ]
    assert dict(columns(database.engine, "acc__orders"))["last_modified"].startswith("timestamp")


ORDERS = [
    {"OrderID": 1, "CustomerID": "ALFKI", "OrderDate": "2024-06-15T02:00:00Z", "Freight": 12.5,
     "Shipped": True, "LastModified": "2024-06-15T02:00:00.1234567+02:00"},
    {"OrderID": 2, "CustomerID": "BONAP", "OrderDate": "2024-06-16T08:30:00", "Freight": "abc",
     "Shipped": "maybe", "LastModified": "not a time"},
    {"OrderID": 3, "CustomerID": None, "OrderDate": "2024-06-17T00:00:00+99:00",
     "Freight": None, "Shipped": False, "LastModified": "2024-06-17T00:00:00Z"},
]  # fmt: skip


@pytest.mark.parametrize("mode", ["valid", "function"])
def test_values_that_do_not_cast_are_null_and_counted(database: Database, mode: str) -> None:
    config_id = odata_service(database.engine)
    land(database.engine, config_id, "/Orders", ORDERS, "OrderID", deleted={"3"})
    result = refresh(database, mode=mode)["acc__orders"]  # type: ignore[arg-type]
    assert result.rows == 3
    assert result.non_castable == {
        "order_date": 1,  # +99:00 is no offset
        "freight": 1,
        "shipped": 1,
        "last_modified": 1,
    }
    live = rows(database.engine, "SELECT * FROM silver.acc__orders ORDER BY order_id")
    assert [r["order_id"] for r in live] == [1, 2]  # 3 is soft-deleted
    first, second = live
    assert first["freight"] == Decimal("12.5") and first["shipped"] is True
    assert first["order_date"].isoformat() == "2024-06-15T02:00:00+00:00"
    assert first["last_modified"].isoformat() == "2024-06-15T00:00:00.123457+00:00"
    assert second["order_date"].isoformat() == "2024-06-16T08:30:00+00:00"  # no offset: UTC
    assert second["freight"] is None and second["shipped"] is None
    assert second["last_modified"] is None
    every = rows(database.engine, "SELECT * FROM silver.acc__orders__all ORDER BY order_id")
    assert [r["order_id"] for r in every] == [1, 2, 3]
    assert every[2]["_deleted_at"] is not None and every[2]["order_date"] is None


def test_the_fallback_functions_cast_or_give_null(database: Database) -> None:
    refresh_views(database.engine, [], schema="silver_fb", mode="function")
    got = rows(
        database.engine,
        "SELECT silver_fb.cc_try_int4('5') AS a, silver_fb.cc_try_int4('5.5') AS b,"
        " silver_fb.cc_try_int8('9000000000') AS c, silver_fb.cc_try_bool('nope') AS d,"
        " silver_fb.cc_try_uuid('x') AS e, silver_fb.cc_try_date('2024-02-30') AS f,"
        " silver_fb.cc_try_timestamptz('2024-06-15T10:00:00') AS g,"
        " silver_fb.cc_try_float8('INF') AS h, silver_fb.cc_try_numeric('1e3') AS i",
    )[0]
    assert got["a"] == 5 and got["b"] is None and got["c"] == 9_000_000_000
    assert got["d"] is None and got["e"] is None and got["f"] is None
    assert got["g"].isoformat() == "2024-06-15T10:00:00+00:00"
    assert got["h"] == float("inf") and got["i"] == Decimal("1000")
    with database.engine.connect() as conn:
        volatility = conn.execute(
            text("SELECT DISTINCT provolatile FROM pg_proc WHERE proname LIKE 'cc_try_%'")
        ).scalars()
        assert list(volatility) == ["i"]


def test_drift_appends_a_column_and_a_retype_recreates(database: Database) -> None:
    config_id = odata_service(database.engine)
    land(database.engine, config_id, "/Customers", [{"CustomerID": "A", "Since": "2020-01-01"}],
         "CustomerID")  # fmt: skip
    refresh(database)
    before = columns(database.engine, "acc__customers")
    land(database.engine, config_id, "/Customers",
         [{"CustomerID": "B", "LoyaltyTier": 3, "Notes": {"a": 1}}], "CustomerID")  # fmt: skip
    result = refresh(database)["acc__customers"]
    assert result.action == "extended" and result.added == ["loyalty_tier", "notes"]
    assert columns(database.engine, "acc__customers") == [
        *before,
        ("loyalty_tier", "numeric"),
        ("notes", "jsonb"),
    ]
    assert refresh(database)["acc__customers"].action == "unchanged"
    # $metadata now says Since is a string: the view is dropped and created, grants kept
    with database.engine.begin() as conn:
        conn.execute(text("CREATE ROLE cc_test_drift_grantee NOLOGIN"))
        conn.execute(text("GRANT SELECT ON silver.acc__customers TO cc_test_drift_grantee"))
        conn.execute(
            text(
                "UPDATE cc_odata_query_template SET record_schema = jsonb_set(record_schema,"
                " '{properties,Since}', '\"Edm.String\"') WHERE resource_path = '/Customers'"
            )
        )
    try:
        result = refresh(database)["acc__customers"]
        assert result.action == "recreated" and result.retyped == ["since"]
        assert dict(columns(database.engine, "acc__customers"))["since"] == "text"
        with database.engine.connect() as conn:
            assert conn.execute(
                text(
                    "SELECT has_table_privilege('cc_test_drift_grantee',"
                    " 'silver.acc__customers', 'SELECT')"
                )  # fmt: skip
            ).scalar()
            conn.execute(text("CREATE VIEW public.since_report AS SELECT since FROM"
                              " silver.acc__customers"))  # fmt: skip
            conn.commit()
        with database.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE cc_odata_query_template SET record_schema = jsonb_set(record_schema,"
                    " '{properties,Since}', '\"Edm.Date\"') WHERE resource_path = '/Customers'"
                )
            )
        blocked = refresh(database)["acc__customers"]
        assert blocked.action == "blocked" and blocked.dependents == ["since_report"]
        assert dict(columns(database.engine, "acc__customers"))["since"] == "text"  # untouched
    finally:
        with database.engine.begin() as conn:
            conn.execute(text("DROP VIEW IF EXISTS public.since_report"))
            conn.execute(text("DROP OWNED BY cc_test_drift_grantee"))
            conn.execute(text("DROP ROLE cc_test_drift_grantee"))


def test_long_names_end_in_a_hash_never_a_silent_cut(database: Database) -> None:
    config_id = add_config(database.engine, "a-tenant-with-a-rather-long-name-for-its-config")
    long_property = "ThePropertyWhoseNameIsMuchLongerThanPostgresAllowsForAnyIdentifier" * 2
    add_template(database.engine, config_id, "/VeryLongEntitySetNamesAreAllowedByOData",
                 ["Id"], {"properties": {"Id": "Edm.Int32", long_property: "Edm.String",
                                         long_property + "X": "Edm.Int64"}})  # fmt: skip
    result = next(iter(refresh(database).values()))
    assert len(result.spec.all_name.encode()) <= 63
    names = [c.name for c in result.columns]
    assert len(set(names)) == len(names) and all(len(n.encode()) <= 63 for n in names)
    long_ones = [n for n in names if n.startswith("the_property")]
    assert len(long_ones) == 2 and all(len(n) == 63 for n in long_ones)
    assert columns(database.engine, result.spec.all_name)[-1][1] == "bigint"


def test_a_schema_of_its_own(database: Database) -> None:
    from cc_console.errors import UsageError

    for bad in ("public", "Silver; DROP", "pg_x"):
        with pytest.raises(UsageError):
            refresh_views(database.engine, [], schema=bad)


def test_a_busy_view_is_left_as_it_was_under_lock_timeout(database: Database) -> None:
    config_id = odata_service(database.engine)
    land(database.engine, config_id, "/Customers", [{"CustomerID": "A"}], "CustomerID")
    refresh(database)
    land(database.engine, config_id, "/Customers", [{"CustomerID": "B", "Tier": 1}], "CustomerID")
    with database.engine.connect() as reader:  # a long read holds the view
        reader.execute(text("SELECT * FROM silver.acc__customers"))
        results = refresh(database, lock_timeout_ms=50)
        assert results["acc__customers"].action == "locked"
        assert results["acc__orders"].action == "unchanged"  # the others go on
        reader.rollback()
    assert "tier" not in dict(columns(database.engine, "acc__customers"))
    assert refresh(database)["acc__customers"].action == "extended"


def test_odd_property_names_are_quoted_and_told_apart(database: Database) -> None:
    config_id = add_config(database.engine, "weird", "generic")
    record = {"Id": 1, 'it\'s "odd"': "q", "a-b": 1, "a_b": True, "_landed_at": "x", "42": 5}
    land(database.engine, config_id, "/Things", [record], "Id")
    result = refresh(database)["weird__things"]
    names = [c.name for c in result.columns]
    assert names[:5] == ["_landed_at", "_run_id", "_response_id", "_deleted_at", "c_42"]  # no key
    assert len(set(names)) == len(names) and "it_s_odd" in names and "landed_at" in names
    assert sum(n.startswith("a_b") for n in names) == 2
    got = rows(database.engine, "SELECT * FROM silver.weird__things")[0]
    assert got["it_s_odd"] == "q" and got["c_42"] == 5 and got["landed_at"] == "x"
    hashed = next(n for n in names if n.startswith("a_b_"))  # "a_b" came second (sorted)
    assert got["a_b"] == Decimal(1) and got[hashed] is True
