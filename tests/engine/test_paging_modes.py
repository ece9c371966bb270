"""Next links, paging modes, cursor shape and redirects against both dialects, over a socket."""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import text

from cc_console.engine import run_template
from cc_console.sim.odata4 import DEFAULT_SIZES, SETS
from tests.simulator_fixture import SMALL

ODATA = {"dialect": "odata4", "rate_limit": {"enabled": False}}


def odata_tenant(tenant, **sim):  # type: ignore[no-untyped-def]
    t = tenant("clean", sim={**ODATA, **sim}, dialect="odata4")  # aimed at the service root
    t.base_url = t.sim.running.odata_url
    return t


def set_template(t, name: str, paging: str = "auto", **options):  # type: ignore[no-untyped-def]
    spec = SETS[name]
    schema = {
        "entity_type": f"Demo.Sales.{spec.type_name}",
        "properties": {n: edm for n, (edm, _) in spec.properties.items()},
        "nullable": [],
    }
    template = t.template(f"/{name}", key=list(spec.key), paging=paging, **options)
    with t.database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_odata_query_template SET record_schema = CAST(:s AS jsonb) WHERE id = :t"
            ),
            {"s": __import__("json").dumps(schema), "t": template},
        )
    return template


@pytest.mark.parametrize(
    ("paging", "options"),
    [
        pytest.param("auto", {"$top": 1000}, id="auto-top-above-the-server-maximum"),
        pytest.param("server", {}, id="server"),
        pytest.param("skip", {"$top": 100}, id="skip-while-the-server-caps-at-50"),
    ],
)
async def test_each_paging_mode_lands_a_capped_set_fully(tenant, aengine, paging, options) -> None:  # type: ignore[no-untyped-def]
    t = odata_tenant(tenant)
    started = time.perf_counter()
    summary = await run_template(aengine, set_template(t, "Products", paging, **options))
    took = time.perf_counter() - started
    n = DEFAULT_SIZES["Products"]
    assert summary.status == "succeeded", summary.message
    assert summary.landed == n and summary.reconciled
    assert t.scalar("SELECT count(DISTINCT record_key) FROM cc_silver_record") == n
    urls = [u for (u,) in t.rows("SELECT url FROM cc_api_request_log ORDER BY sent_at")]
    if paging == "server":
        assert "%24top" not in urls[0] and "$top" not in urls[0]
    if paging == "skip":
        assert all("skiptoken" not in u for u in urls)  # links ignored: our own $skip only
    else:
        assert any("$skiptoken=" in u for u in urls)  # the relative link, followed verbatim
    print(f"{paging}: {summary.landed} records, {summary.requests} requests, {took:.2f} s")


async def test_an_exactly_full_last_page_and_its_empty_successor_end_cleanly(
    tenant, aengine
) -> None:  # type: ignore[no-untyped-def]
    t = odata_tenant(tenant, odata4_sizes={**DEFAULT_SIZES, "Products": 100})
    summary = await run_template(aengine, set_template(t, "Products", "server"))
    assert summary.status == "succeeded" and summary.landed == 100 and summary.pages == 3


@pytest.mark.parametrize("paging", ["auto", "server", "skip"])
async def test_a_cancelled_run_resumes_exactly_in_each_mode(tenant, aengine, paging) -> None:  # type: ignore[no-untyped-def]
    # twenty pages or more in every mode: server paging pages Products by the service's 50
    # (OrderLines would be three pages of 1000, and could end before the cancel is seen)
    name = "Products" if paging == "server" else "OrderLines"
    n = 1000 if paging == "server" else DEFAULT_SIZES["OrderLines"]
    t = odata_tenant(tenant, latency_ms=20, odata4_sizes={**DEFAULT_SIZES, "Products": n})
    template = set_template(t, name, paging, **({"$top": 100} if paging != "server" else {}))
    stop = asyncio.Event()
    task = asyncio.create_task(run_template(aengine, template, cancel=stop))
    while t.scalar("SELECT count(*) FROM cc_silver_record") < 300:
        await asyncio.sleep(0.01)
    stop.set()
    first = await task
    assert first.status == "partial"
    resumed = await run_template(
        aengine, template, trigger="resume", parent_run_id=uuid.UUID(first.run_id)
    )
    assert resumed.status == "succeeded" and resumed.reconciled
    assert first.records + resumed.records == n  # nothing fetched twice, nothing skipped
    assert t.scalar("SELECT count(DISTINCT record_key) FROM cc_silver_record") == n
    restarted = t.scalar("SELECT count(*) FROM cc_error_event WHERE kind = 'cursor_restarted'")
    assert restarted == 0


async def test_an_expired_skiptoken_on_resume_restarts_the_cursor(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = odata_tenant(tenant, latency_ms=20, odata4_sizes={**DEFAULT_SIZES, "Products": 300})
    template = set_template(t, "Products", "server")
    stop = asyncio.Event()
    task = asyncio.create_task(run_template(aengine, template, cancel=stop))
    while not t.scalar("SELECT count(*) FROM cc_silver_record"):
        await asyncio.sleep(0.01)
    stop.set()
    first = await task
    assert first.status == "partial"
    assert "$skiptoken=" in t.scalar("SELECT next_link FROM cc_pagination_state")
    t.sim.reset()  # the service forgets the tokens it handed out
    resumed = await run_template(
        aengine, template, trigger="resume", parent_run_id=uuid.UUID(first.run_id)
    )
    assert resumed.status == "succeeded" and resumed.reconciled, resumed.message
    (message,) = t.rows("SELECT message FROM cc_error_event WHERE kind = 'cursor_restarted'")[0]
    assert "skiptoken expired" in message
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == 300


async def test_a_changed_template_shape_restarts_the_cursor(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "latency_ms": 20}, default_page_size=20)
    template = t.template("/patient-visits/odata")
    stop = asyncio.Event()
    task = asyncio.create_task(run_template(aengine, template, cancel=stop))
    while not t.scalar("SELECT count(*) FROM cc_silver_record"):
        await asyncio.sleep(0.01)
    stop.set()
    first = await task
    with t.database.engine.begin() as conn:  # the operator changed how the template pages
        conn.execute(text("UPDATE cc_odata_query_template SET paging = 'skip'"))
    resumed = await run_template(
        aengine, template, trigger="resume", parent_run_id=uuid.UUID(first.run_id)
    )
    assert resumed.status == "succeeded" and resumed.records == SMALL["patient-visits"]
    (message,) = t.rows("SELECT message FROM cc_error_event WHERE kind = 'cursor_restarted'")[0]
    assert "paging 'auto' -> 'skip'" in message
    assert resumed.reconciled


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param("next_link_loop", "next_link_loop", id="loop"),
        pytest.param("bad_next_link", "bad_next_link", id="bad-port"),
        pytest.param("foreign_next_link", "foreign_next_link", id="foreign-origin"),
    ],
)
async def test_a_hostile_next_link_ends_the_run_with_its_own_kind(
    tenant, aengine, fault, kind
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "faults": {fault: 1.0}}, default_page_size=5)
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "partial" and summary.message.startswith(kind), summary.message
    assert summary.pages == 1 and t.scalar("SELECT count(*) FROM cc_api_request_log") == 1
    assert t.scalar("SELECT kind FROM cc_error_event") == kind
    assert t.scalar("SELECT status FROM cc_sync_run") == "partial"  # never left running
    assert t.scalar("SELECT next_link FROM cc_pagination_state") is None


async def test_a_same_origin_redirect_is_followed_and_each_hop_logged(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "faults": {"redirect": 0.3}, "seed": 4},
        default_page_size=20,
    )
    summary = await run_template(aengine, t.template("/patients/odata"))
    assert summary.status == "succeeded" and summary.landed == SMALL["patients"]
    redirects = t.sim.stats()["faults"]["redirect"]
    hops = t.scalar("SELECT count(*) FROM cc_api_response_log WHERE status_code = 307")
    requests = t.scalar("SELECT count(*) FROM cc_api_request_log")
    assert hops == redirects > 0 and requests == summary.pages + redirects


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("foreign_redirect", "foreign_redirect"), ("redirect", "too_many_redirects")],
)
async def test_a_redirect_elsewhere_or_without_end_is_refused(tenant, aengine, fault, kind) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "faults": {fault: 1.0}}, max_retries=0)
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "failed" and summary.message.startswith(kind), summary.message
    urls = [u for (u,) in t.rows("SELECT url FROM cc_api_request_log")]
    assert not any("example.invalid" in u for u in urls)  # nothing was sent there
    assert len(urls) == (1 if fault == "foreign_redirect" else 6)


async def test_the_servers_reason_is_in_the_event_and_the_run(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = odata_tenant(tenant)
    template = set_template(t, "Orders", "auto", **{"$filter": "OrderID eq 'x'"})
    summary = await run_template(aengine, template)
    assert summary.status == "failed"
    assert "incompatible types" in summary.message and "HTTP 400 from /Orders" in summary.message
    assert "incompatible types" in t.scalar("SELECT message FROM cc_error_event")


@pytest.mark.parametrize(
    ("name", "filter_"),
    [
        ("Customers", "CompanyName eq 'O''Brien & Sons'"),
        ("Customers", "startswith(Phone,'+49') and Country ne 'Mexico'"),
        ("Customers", "Phone eq null"),
        ("Orders", "OrderDate gt 2024-06-01T00:00:00Z and Freight le 400.5"),
    ],
)
async def test_filters_reach_the_server_as_one_literal_and_land_exactly(
    tenant, aengine, name, filter_
) -> None:  # type: ignore[no-untyped-def]
    t = odata_tenant(tenant)
    summary = await run_template(aengine, set_template(t, name, "auto", **{"$filter": filter_}))
    url = f"{t.base_url}/{name}/$count?$filter={quote(filter_, safe='')}"
    expected = int(httpx.get(url, headers={"X-ApiKey": t.sim.running.config.api_key}).text)
    assert summary.status == "succeeded" and summary.landed == expected > 0
    assert summary.reconciled
