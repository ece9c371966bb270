"""Full syncs against the simulator over a real socket: exact Silver, complete audit trail."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from cc_console.engine import CursorBusy, mark_stale_runs, run_template
from cc_console.sim import RESOURCES
from tests.simulator_fixture import SMALL


def audit_complete(t, run_id) -> None:  # type: ignore[no-untyped-def]
    """Every request the run made has exactly one response or an error explaining why not."""
    orphans = t.scalar(
        "SELECT count(*) FROM cc_api_request_log q WHERE q.run_id = :r AND NOT EXISTS ("
        " SELECT 1 FROM cc_api_response_log s WHERE s.request_id = q.id AND s.sent_at = q.sent_at)"
        " AND NOT EXISTS (SELECT 1 FROM cc_error_event e WHERE e.request_id = q.id)",
        r=run_id,
    )
    assert orphans == 0


@pytest.mark.parametrize(
    "sim_options",
    [
        pytest.param({"envelope": "pageresult"}, id="pageresult"),
        pytest.param({"envelope": "pageresult", "casing": "swagger"}, id="swagger-casing"),
        pytest.param({"envelope": "odata"}, id="odata"),
        pytest.param({"envelope": "array"}, id="array"),
        pytest.param({"envelope": "vendor", "auth_header": "CCAPIKey"}, id="vendor"),
        pytest.param({"envelope": "odata", "server_page_size": 40}, id="server-paging"),
    ],
)
async def test_clean_sync_of_every_resource(tenant, aengine, sim_options) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        "clean", sim={"rate_limit": {"enabled": False}, **sim_options}, default_page_size=100
    )
    for resource in RESOURCES:
        summary = await run_template(aengine, t.template(f"/{resource}/odata"))
        assert summary.status == "succeeded", summary.message
        silver = t.scalar(
            "SELECT count(*) FROM cc_silver_record WHERE resource_path = :p", p=f"/{resource}"
        )
        assert silver == summary.records == SMALL[resource]
        if sim_options["envelope"] != "array" and not (
            sim_options["envelope"] == "vendor" and resource in ("studies", "patients", "sites")
        ):
            assert summary.odata_count == SMALL[resource] and summary.reconciled
        audit_complete(t, summary.run_id)
    stats = t.sim.stats()
    logged = t.scalar("SELECT count(*) FROM cc_api_request_log")
    answered = t.scalar("SELECT count(*) FROM cc_api_response_log")
    assert logged == answered == stats["api_requests"]  # 100% of what the server saw


async def test_lineage_and_no_duplicates_after_a_second_sync(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}}, default_page_size=70)
    template = t.template("/patients/odata")
    first = await run_template(aengine, template)
    second = await run_template(aengine, template, trigger="retry")
    assert first.status == second.status == "succeeded"
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == SMALL["patients"]
    # unchanged records are not rewritten: lineage still points at the first run's responses
    assert t.scalar("SELECT count(DISTINCT last_run_id) FROM cc_silver_record") == 1
    broken = t.scalar(
        "SELECT count(*) FROM cc_silver_record s LEFT JOIN cc_api_response_log r"
        " ON r.id = s.last_response_id AND r.sent_at = s.last_response_sent_at"
        " WHERE r.id IS NULL"
    )
    assert broken == 0


async def test_filter_values_reach_the_server_as_one_literal(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}})
    hostile = "name eq 'x&$top=1#y+z''s' or name eq 'A & B'"
    summary = await run_template(aengine, t.template("/studies/odata", **{"$filter": hostile}))
    assert summary.status == "succeeded" and summary.records == 0
    (params,) = t.rows("SELECT query_params FROM cc_api_request_log")
    assert params[0]["$filter"] == hostile
    assert set(params[0]) == {"$filter", "$orderby", "$top", "$skip", "$count"}
    (url,) = t.rows("SELECT url FROM cc_api_request_log")
    assert "%26" in url[0] and "%23" in url[0] and "%2B" in url[0]


async def test_a_second_engine_on_the_same_cursor_is_refused(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "latency_ms": 150}, default_page_size=50)
    template = t.template("/subjects/odata")
    first = asyncio.create_task(run_template(aengine, template))
    while not t.scalar("SELECT count(*) FROM cc_api_request_log"):  # first holds the lock
        await asyncio.sleep(0.01)
    with pytest.raises(CursorBusy, match="another engine is already syncing /subjects/odata"):
        await run_template(aengine, template)
    assert (await first).status == "succeeded"


async def test_stale_running_run_is_marked_interrupted(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    template = t.template("/sites/odata")
    with t.database.engine.begin() as conn:
        run_id = conn.execute(
            text(
                "INSERT INTO cc_sync_run (config_id, template_id, resource_path, filter_hash,"
                " trigger, created_by, pages, heartbeat_at) VALUES (:c, :t, '/sites/odata',"
                " :h, 'manual', 't', 2, now() - interval '1 hour') RETURNING id"
            ),
            {"c": t.config_id, "t": template, "h": "0" * 64},
        ).scalar_one()
    assert await mark_stale_runs(aengine) == [run_id]
    assert t.scalar("SELECT status FROM cc_sync_run WHERE id = :r", r=run_id) == "partial"
    assert t.scalar("SELECT kind FROM cc_error_event WHERE run_id = :r", r=run_id) == "interrupted"


async def test_cancel_requested_ends_the_run(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}})
    stop = asyncio.Event()
    stop.set()
    summary = await run_template(aengine, t.template("/sites/odata"), cancel=stop)
    assert summary.status == "failed" and summary.message.startswith("cancelled")
    assert t.scalar("SELECT kind FROM cc_error_event") == "cancelled"


async def test_missing_secret_fails_the_run_without_a_request(tenant, aengine, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    t = tenant()
    monkeypatch.delenv("CC_TEST_SIM_KEY")
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "failed" and "CC_TEST_SIM_KEY" in summary.message
    assert t.scalar("SELECT count(*) FROM cc_api_request_log") == 0
    assert t.sim.stats()["requests_total"] == 0


@pytest.mark.parametrize(
    "bad_key",
    [
        pytest.param("FAKE-key\nX-Injected: 1", id="newline"),
        pytest.param("FAKE-kéy-not-ascii", id="non-ascii"),
        pytest.param("Bearer FAKE-key-with-its-scheme", id="inner-space"),
    ],
)
async def test_a_key_that_cannot_travel_fails_the_run_unsent_and_unshown(  # type: ignore[no-untyped-def]
    tenant, aengine, monkeypatch, bad_key
) -> None:
    t = tenant()
    monkeypatch.setenv("CC_TEST_SIM_KEY", bad_key)
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "failed" and "CC_TEST_SIM_KEY" in summary.message
    assert "FAKE-k" not in (summary.message or "")
    assert t.scalar("SELECT count(*) FROM cc_sync_run WHERE status = 'running'") == 0
    assert t.scalar("SELECT count(*) FROM cc_api_request_log") == 0
    assert t.sim.stats()["requests_total"] == 0


async def test_cancel_from_another_process_stops_between_pages(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "latency_ms": 60}, default_page_size=10)
    task = asyncio.create_task(run_template(aengine, t.template("/patient-visits/odata")))
    while not t.scalar("SELECT count(*) FROM cc_silver_record"):  # a page has landed
        await asyncio.sleep(0.01)
    with t.database.engine.begin() as conn:  # what `cc-console cancel` does
        conn.execute(text("UPDATE cc_sync_run SET cancel_requested_at = now()"))
    summary = await task
    assert summary.status == "partial" and summary.message.startswith("cancelled")
    assert 0 < summary.records < SMALL["patient-visits"]
    assert t.scalar("SELECT kind FROM cc_error_event") == "cancelled"
    assert t.scalar("SELECT status FROM cc_pagination_state") == "partial"


async def test_every_page_and_run_change_is_announced(tenant, aengine, database) -> None:  # type: ignore[no-untyped-def]
    from cc_console.store.listen import listen_events

    t = tenant(sim={"rate_limit": {"enabled": False}}, default_page_size=20)
    async with listen_events(database.url) as events:
        summary = await run_template(aengine, t.template("/sites/odata"))
        received = []
        async with asyncio.timeout(10):
            async for event in events:
                received.append(event)
                if event["kind"] == "run" and event.get("status") == "succeeded":
                    break
    pages = [e for e in received if e["kind"] == "page"]
    assert len(pages) == summary.pages and all(e["run_id"] == summary.run_id for e in pages)
    assert [e["status"] for e in received if e["kind"] == "run"] == ["running", "succeeded"]
