"""Change history (templates with --history): the trigger keeps each replaced version, the
``…__history`` view shows it typed; a real sync twice over changed rows writes it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cc_console.engine import run_template
from cc_console.odata.resources import resource_name
from cc_console.store.database import Database
from tests.engine.test_incremental_sync import change, studies_tenant
from tests.store.silver_seed import land, odata_service
from tests.store.test_silver_views import columns, refresh, rows


@pytest.mark.parametrize(
    "path",
    ["/studies/3/subjects/odata", "/Orders", "/sites/odata", "/patient-visits/odata/",
     "/odata/Orders", "/x/OData", "/a//b"],
)  # fmt: skip
def test_the_sql_silver_path_is_resource_name(database: Database, path: str) -> None:
    with database.engine.connect() as conn:
        got = conn.execute(text("SELECT cc_silver_path(:p)"), {"p": path}).scalar_one()
    assert got == "/" + resource_name(path)


def _replace(database: Database, key: str, freight: float, at: str, run: str) -> None:
    """What the landing's upsert does to a row whose payload changed."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_silver_record SET payload = jsonb_set(payload, '{Freight}',"
                " to_jsonb(CAST(:f AS numeric))), payload_hash = md5(:at) || md5(CAST(:f AS text)),"
                " last_seen_at = CAST(:at AS timestamptz), last_run_id = CAST(:run AS uuid)"
                " WHERE resource_path = '/Orders' AND record_key = :k"
            ),
            {"f": freight, "at": at, "run": run, "k": key},
        )


def test_each_replaced_version_is_kept_and_shown_typed(database: Database) -> None:
    config_id = odata_service(database.engine)
    land(database.engine, config_id, "/Orders", [{"OrderID": 1, "Freight": 1.5}], "OrderID")
    land(database.engine, config_id, "/Customers", [{"CustomerID": "A"}], "CustomerID")
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_odata_query_template SET keep_history = true"
                " WHERE resource_path = '/Orders'"
            )  # fmt: skip
        )
    run_a, run_b = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"
    _replace(database, "1", 2.5, "2026-01-06T10:00:00Z", run_a)
    _replace(database, "1", 3.5, "2026-01-07T10:00:00Z", run_b)
    with database.engine.begin() as conn:  # a soft delete keeps the payload: no version
        conn.execute(text("UPDATE cc_silver_record SET deleted_at = now()"))
    with database.engine.begin() as conn:  # Customers keep no history
        conn.execute(
            text(
                'UPDATE cc_silver_record SET payload = \'{"CustomerID": "A", "Phone": "1"}\','
                " payload_hash = repeat('b', 64) WHERE resource_path = '/Customers'"
            )  # fmt: skip
        )
    result = refresh(database)
    assert result["acc__orders"].history and not result["acc__customers"].history
    history = rows(
        database.engine,
        "SELECT order_id, freight, _valid_from, _valid_to, _replaced_by_run_id"
        " FROM silver.acc__orders__history ORDER BY _valid_from",
    )
    assert [(r["order_id"], float(r["freight"])) for r in history] == [(1, 1.5), (1, 2.5)]
    assert history[0]["_valid_to"] == history[1]["_valid_from"]
    assert history[1]["_valid_to"].isoformat() == "2026-01-07T10:00:00+00:00"
    assert [str(r["_replaced_by_run_id"]) for r in history] == [run_a, run_b]
    shown = [name for name, _ in columns(database.engine, "acc__orders__history")]
    assert shown[:7] == ["order_id", "_valid_from", "_valid_to", "_run_id", "_response_id",
                         "_replaced_by_run_id", "_replaced_by_response_id"]  # fmt: skip
    assert shown[7:] == [name for name, _ in columns(database.engine, "acc__orders")][5:]
    assert rows(database.engine, "SELECT count(*) AS n FROM cc_silver_history")[0]["n"] == 2


async def test_two_syncs_over_changed_rows_keep_two_versions_each(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant, n=40)
    template = t.template("/studies/odata")
    with t.database.engine.begin() as conn:
        conn.execute(text("UPDATE cc_odata_query_template SET keep_history = true"))
    first = await run_template(aengine, template)
    assert first.status == "succeeded" and first.inserted == 40
    ids = [3, 7, 11]
    change(t, resource="studies", ids=ids)
    second = await run_template(aengine, template)
    change(t, resource="studies", ids=ids)
    third = await run_template(aengine, template)
    assert second.updated == 3 and third.updated == 3
    kept = t.rows(
        "SELECT record_key, run_id, replaced_by_run_id, valid_from, valid_to,"
        " replaced_by_response_id FROM cc_silver_history ORDER BY record_key, valid_from"
    )
    assert sorted({row[0] for row in kept}) == sorted(str(i) for i in ids)
    assert len(kept) == 6
    for key in ids:
        older, newer = [row for row in kept if row[0] == str(key)]
        assert str(older[1]) == str(first.run_id) and str(older[2]) == str(second.run_id)
        assert str(newer[1]) == str(second.run_id) and str(newer[2]) == str(third.run_id)
        assert older[4] == newer[3] and newer[5] is not None
