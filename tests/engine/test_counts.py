"""Runs tell the truth: fetched = landed + rejected, landed = inserted + updated + unchanged,
counted by the landing; Silver belongs to its tenant; reconciliation covers the resume chain."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from cc_console.engine import run_template
from tests.simulator_fixture import SMALL


def run_row(t, run_id: str):  # type: ignore[no-untyped-def]
    return t.rows(
        "SELECT records, records_landed, records_inserted, records_updated, records_unchanged,"
        " records_rejected, chain_records_landed FROM cc_sync_run WHERE id = :r",
        r=run_id,
    )[0]


async def test_a_first_sync_inserts_and_a_second_finds_everything_unchanged(
    tenant, aengine
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}}, default_page_size=70)
    template = t.template("/patients/odata")
    first = await run_template(aengine, template)
    second = await run_template(aengine, template, trigger="retry")
    n = SMALL["patients"]
    assert (first.records, first.landed, first.inserted, first.updated, first.unchanged) == (
        n,
        n,
        n,
        0,
        0,
    )
    assert (second.landed, second.inserted, second.updated, second.unchanged) == (n, 0, 0, n)
    assert first.rejected == second.rejected == 0
    assert tuple(run_row(t, second.run_id))[:2] == (n, n)
    assert second.chain_landed == n and second.reconciled
    assert t.scalar("SELECT records_landed FROM cc_pagination_state") == n


async def test_records_without_their_key_are_rejected_and_the_run_is_partial(
    tenant, aengine
) -> None:  # type: ignore[no-untyped-def]
    # after 3 requests the server drops `uid` from every record: keyed by uid, they cannot land
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "drift_after": 3, "drift_kind": "remove"},
        default_page_size=50,
    )
    summary = await run_template(aengine, t.template("/patients/odata", key=["uid"]))
    n = SMALL["patients"]
    assert summary.status == "partial" and summary.message.startswith("rejected:")
    assert summary.records == n == summary.landed + summary.rejected
    assert summary.landed == 150 and summary.rejected == n - 150
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == 150
    # the cursor read everything: it is completed, and it counts what it rejected
    cursor = t.rows("SELECT status, records_landed, records_rejected FROM cc_pagination_state")
    assert tuple(cursor[0]) == ("completed", 150, n - 150)
    rejected_in_validations = t.scalar(
        "SELECT sum(records_invalid) FROM cc_schema_validation WHERE NOT ok"
    )
    assert rejected_in_validations == n - 150
    sample = t.scalar(
        "SELECT errors_sample -> 0 ->> 'error' FROM cc_schema_validation WHERE NOT ok LIMIT 1"
    )
    assert sample == "missing_key"
    assert not summary.reconciled  # 150 landed of 300 counted


async def test_two_tenants_on_one_resource_keep_their_own_silver_rows(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    a = tenant(sim={"rate_limit": {"enabled": False}})
    b = tenant(sim={"rate_limit": {"enabled": False}, "seed": 11})  # other records, same ids
    first = await run_template(aengine, a.template("/sites/odata"))
    second = await run_template(aengine, b.template("/sites/odata"))
    assert first.inserted == second.inserted == SMALL["sites"]  # b overwrote nothing of a's
    per_config = dict(a.rows("SELECT config_id, count(*) FROM cc_silver_record GROUP BY config_id"))
    assert per_config == {a.config_id: SMALL["sites"], b.config_id: SMALL["sites"]}
    crossed = a.scalar(
        "SELECT count(*) FROM cc_silver_record s JOIN cc_sync_run r ON r.id = s.last_run_id"
        " WHERE r.config_id <> s.config_id"
    )
    assert crossed == 0


async def test_a_resumed_run_reconciles_over_its_chain(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "latency_ms": 30}, default_page_size=20)
    template = t.template("/patient-visits/odata")
    stop = asyncio.Event()
    task = asyncio.create_task(run_template(aengine, template, cancel=stop))
    while not t.scalar("SELECT count(*) FROM cc_silver_record"):  # a page has landed
        await asyncio.sleep(0.01)
    stop.set()
    first = await task
    assert first.status == "partial" and 0 < first.landed < SMALL["patient-visits"]
    resumed = await run_template(
        aengine, template, trigger="resume", parent_run_id=__import__("uuid").UUID(first.run_id)
    )
    n = SMALL["patient-visits"]
    assert resumed.status == "succeeded" and resumed.landed == n - first.landed
    assert resumed.chain_landed == n and resumed.reconciled  # the chain, not its own segment
    with t.database.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_silver_record")) == n
