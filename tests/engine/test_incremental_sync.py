"""Incremental sync by a replication key against the simulator over a loopback socket:
only what changed is read, ties and mid-run changes lose nothing, Silver equals the server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cc_console.engine import run_template
from cc_console.odata.keyset import Replication
from tests.engine.test_sync import audit_complete
from tests.tenant import SIM_KEY

STUDIES = Replication("lastUpdatedOn", "Edm.DateTimeOffset", 0.0, True).as_dict()


def studies_tenant(tenant, n: int = 300, **sim: Any):  # type: ignore[no-untyped-def]
    t = tenant(
        "clean",
        sim={"sizes": {"studies": n}, "rate_limit": {"enabled": False}, **sim},
        default_page_size=100,
    )
    return t


def change(t, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = httpx.post(f"{t.sim.running.base_url}/__sim/change", json=body)
    response.raise_for_status()
    return dict(response.json())


def server_rows(t, resource: str = "studies") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every record the server has now, by key (read past the client: straight $skip)."""
    rows: dict[str, Any] = {}
    skip = 0
    while True:
        page = t.sim.get(f"/{resource}/odata", **{"$top": 1000, "$skip": skip}).json()
        items = page["items"] if isinstance(page, dict) else page
        rows.update({str(r["id"]): r for r in items})
        if len(items) < 1000:
            return rows
        skip += 1000


def silver(t, path: str = "/studies") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        key: payload
        for key, payload in t.rows(
            "SELECT record_key, payload FROM cc_silver_record WHERE resource_path = :p", p=path
        )
    }


def requests_of(t, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        url
        for (url,) in t.rows(
            "SELECT url FROM cc_api_request_log WHERE run_id = :r ORDER BY sent_at", r=run_id
        )
    ]


async def test_an_incremental_run_reads_only_what_changed(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant)
    template = t.template("/studies/odata", incremental=STUDIES)
    first = await run_template(aengine, template)
    assert first.status == "succeeded" and first.sync_mode == "full"
    assert first.landed == first.inserted == 300
    assert silver(t) == {k: v for k, v in server_rows(t).items()}

    newest = max(server_rows(t).values(), key=lambda r: (r["lastUpdatedOn"], r["id"]))
    changed = change(t, resource="studies", update=25)
    again = newest["id"] not in changed["updated"]  # w itself is re-read (ge), unchanged
    second = await run_template(aengine, template)
    assert second.status == "succeeded", second.message
    assert second.sync_mode == "incremental"
    assert "lastUpdatedOn ge " in (second.keyset_from or "")
    assert second.records == 25 + again and second.updated == 25 and second.unchanged == again
    assert second.inserted == 0 and second.rejected == 0
    assert second.requests == 1  # ceil(26 / 100), the short page ends the run
    assert silver(t) == server_rows(t)
    rewritten = t.scalar(
        "SELECT count(*) FROM cc_silver_record WHERE last_run_id = :r", r=second.run_id
    )
    assert rewritten == len(changed["updated"]) == 25  # unchanged rows are not written again
    audit_complete(t, second.run_id)

    idle = await run_template(aengine, template)  # nothing changed: the watermark row only
    assert idle.status == "succeeded" and idle.records == 1 and idle.unchanged == 1


async def test_lookback_rereads_late_writes_and_full_refresh_reads_all(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant)
    lookback = {**STUDIES, "lookback_s": 600.0}  # ten minutes: the sim's changes are 1 min apart
    template = t.template("/studies/odata", incremental=lookback)
    await run_template(aengine, template)
    change(t, resource="studies", update=5)  # stamps w+1 .. w+5 minutes
    await run_template(aengine, template)
    again = await run_template(aengine, template)
    assert again.records >= 5 and again.unchanged == again.records  # re-read, not rewritten
    refresh = await run_template(aengine, template, full_refresh=True)
    assert refresh.sync_mode == "full_refresh" and refresh.keyset_from == "everything"
    assert refresh.records == 300 and refresh.unchanged == 300
    assert silver(t) == server_rows(t)


@pytest.mark.parametrize("timestamps", ["minutes", "fraction", "offset"])
async def test_300_rows_with_one_timestamp_across_three_pages_lose_nothing(  # type: ignore[no-untyped-def]
    tenant, aengine, timestamps: str
) -> None:
    t = studies_tenant(tenant, timestamps=timestamps)
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    change(t, resource="studies", ids=list(range(1, 301)), tie=True)  # all 300: one stamp
    tied = await run_template(aengine, template)
    assert tied.status == "succeeded", tied.message
    assert tied.updated == 300 and tied.records == 300  # w is the old max: nothing is >= it
    assert tied.pages == 4  # three full pages inside one tie group, then an empty one
    assert silver(t) == server_rows(t)
    urls = requests_of(t, tied.run_id)
    assert "$skip" not in "".join(urls)
    if timestamps == "fraction":  # the server's own seven digits, never reformatted
        w = next(iter(server_rows(t).values()))["lastUpdatedOn"]
        assert any(httpx.URL(u).params["$filter"].count(f"{w}Z") == 2 for u in urls[1:])


class ChangeWhilePaging(httpx.AsyncBaseTransport):
    """A transport that, after the ``after``-th response, changes records on the server."""

    def __init__(self, t: Any, after: int, body: dict[str, Any]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.t, self.after, self.body, self.seen = t, after, body, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.seen += 1
        if self.seen == self.after:
            async with httpx.AsyncClient() as client:
                url = f"{self.t.sim.running.base_url}/__sim/change"
                (await client.post(url, json=self.body)).raise_for_status()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_rows_modified_while_the_run_pages_are_not_lost(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    # rows already read (the oldest stamps) change after the first page: by $skip, each
    # shifts the rest one place left and one row is skipped for good; by keyset, nothing is
    t = studies_tenant(tenant)
    oldest = sorted(server_rows(t).values(), key=lambda r: (r["lastUpdatedOn"], r["id"]))
    moved = [r["id"] for r in oldest[:3]]
    body = {"resource": "studies", "ids": moved}

    full = t.template("/studies/odata", paging="skip", orderby="lastUpdatedOn asc")
    skipped = await run_template(aengine, full, transport=ChangeWhilePaging(t, 1, body))
    assert skipped.status == "succeeded"
    lost = set(server_rows(t)) - set(silver(t))
    assert len(lost) == 3  # what this test guards against: $skip paging lost rows

    t2 = studies_tenant(tenant)
    template = t2.template("/studies/odata", incremental=STUDIES)
    run = await run_template(aengine, template, transport=ChangeWhilePaging(t2, 1, body))
    assert run.status == "succeeded", run.message
    assert run.records == 303  # the three moved rows are read again at the end
    mine = {
        k: v
        for k, v in t2.rows(
            "SELECT record_key, payload FROM cc_silver_record WHERE config_id = :c",
            c=t2.config_id,
        )
    }
    assert mine == server_rows(t2)


async def test_a_failed_incremental_run_resumes_from_its_keyset_position(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant, faults={"error_500": 0.0})
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    newest = max(server_rows(t).values(), key=lambda r: (r["lastUpdatedOn"], r["id"]))
    changed = change(t, resource="studies", update=250)
    wanted = 250 + (newest["id"] not in changed["updated"])  # w itself is re-read (ge)

    class FailThird(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner, self.seen = httpx.AsyncHTTPTransport(), 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.seen += 1
            if self.seen >= 3:
                return httpx.Response(400, json=[{"message": "boom"}])
            return await self.inner.handle_async_request(request)

    broken = await run_template(aengine, template, transport=FailThird())
    assert broken.status == "partial" and broken.pages == 2
    resumed = await run_template(aengine, template, trigger="resume")
    assert resumed.status == "succeeded", resumed.message
    assert resumed.sync_mode == "incremental"
    assert broken.records + resumed.records == wanted  # the page that failed is asked again
    first_url = requests_of(t, resumed.run_id)[0]
    assert "id gt" in httpx.URL(first_url).params["$filter"]  # from (w, k), not the start
    assert resumed.chain_landed == wanted and resumed.reconciled is True
    assert silver(t) == server_rows(t)


async def test_odata4_orders_with_seven_digit_stamps_and_ties(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        "clean",
        sim={"dialect": "odata4", "rate_limit": {"enabled": False}},
        default_page_size=100,
    )
    schema = {
        "entity_type": "Demo.Sales.Order",
        "properties": {"OrderID": "Edm.Int32", "LastModified": "Edm.DateTimeOffset"},
        "nullable": [],
    }
    with t.database.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE cc_api_client_config SET dialect = 'odata4'"))
    replication = Replication("LastModified", "Edm.DateTimeOffset", 0.0).as_dict()
    template = t.template("/Orders", key=["OrderID"], incremental=replication)
    with t.database.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(
            text("UPDATE cc_odata_query_template SET record_schema = CAST(:s AS jsonb)"),
            {"s": json.dumps(schema)},
        )
    first = await run_template(aengine, template)
    assert first.status == "succeeded", first.message
    assert first.landed == 830
    change(t, resource="Orders", update=40, insert=3, tie=True)
    second = await run_template(aengine, template)
    assert second.status == "succeeded", second.message
    assert second.updated == 40 and second.inserted == 3
    headers = {t.sim.running.config.auth_header: SIM_KEY}
    url = f"{t.sim.running.odata_url}/Orders?$top=2000"
    server = {str(r["OrderID"]): r for r in httpx.get(url, headers=headers).json()["value"]}
    assert {k: v for k, v in t.rows("SELECT record_key, payload FROM cc_silver_record")} == server


def _studies(ids: list[int], stamp: str = "2025-01-01T00:00:00") -> list[dict[str, Any]]:
    return [{"id": i, "name": f"S{i}", "lastUpdatedOn": stamp} for i in ids]


@pytest.mark.parametrize(
    ("pages", "says"),
    [
        ([list(range(1, 101))] * 3, "did not move the keyset position"),  # filter ignored
        ([list(range(100, 0, -1))], "did not order the page"),
    ],
)
async def test_a_server_that_ignores_the_keyset_ends_the_run_instead_of_looping(  # type: ignore[no-untyped-def]
    tenant, aengine, pages: list[list[int]], says: str
) -> None:
    t = studies_tenant(tenant)
    template = t.template("/studies/odata", incremental=STUDIES)
    served = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        items = _studies(next(served))
        return httpx.Response(200, json={"items": items, "count": 300, "nextPageLink": None})

    run = await run_template(aengine, template, transport=httpx.MockTransport(handler))
    assert run.status == "partial"
    assert run.message is not None and "keyset_stalled" in run.message and says in run.message
    kinds = [
        k for (k,) in t.rows("SELECT kind FROM cc_error_event WHERE run_id = :r", r=run.run_id)
    ]
    assert kinds == ["keyset_stalled"]
    audit_complete(t, run.run_id)


def deleted_keys(t) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        k
        for (k,) in t.rows(
            "SELECT record_key FROM cc_silver_record WHERE config_id = :c"
            " AND deleted_at IS NOT NULL",
            c=t.config_id,
        )
    }


def live_silver(t) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        k: v
        for k, v in t.rows(
            "SELECT record_key, payload FROM cc_silver_record WHERE config_id = :c"
            " AND deleted_at IS NULL",
            c=t.config_id,
        )
    }


async def test_a_full_refresh_marks_exactly_the_rows_the_server_deleted(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant)
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    gone = change(t, resource="studies", delete=7)["deleted"]
    incremental = await run_template(aengine, template)
    assert incremental.deleted is None and deleted_keys(t) == set()  # only full refreshes
    refresh = await run_template(aengine, template, full_refresh=True, detect_deletes=True)
    assert refresh.status == "succeeded" and refresh.message is None
    assert refresh.deleted == 7 and deleted_keys(t) == {str(i) for i in gone}
    assert live_silver(t) == server_rows(t)
    assert t.scalar("SELECT count(*) FROM cc_run_seen_key") == 0  # dropped with the chain
    # a row marked deleted that the server has is undeleted by the next read of it
    back = str(min(int(k) for k in server_rows(t)))
    with t.database.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(
            text("UPDATE cc_silver_record SET deleted_at = now() WHERE record_key = :k"),
            {"k": back},
        )
    again = await run_template(aengine, template, full_refresh=True, detect_deletes=True)
    assert again.deleted == 0 and back not in deleted_keys(t)
    assert live_silver(t) == server_rows(t)


async def test_without_a_count_unseen_rows_are_asked_for_one_by_one(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(  # the vendor serves /studies as a bare array: no count to prove anything by
        "vendor",
        sim={"sizes": {"studies": 120}, "latency_ms": 0, "latency_jitter_ms": 0},
        default_page_size=100,
    )
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    gone = change(t, resource="studies", delete=3)["deleted"]
    refresh = await run_template(aengine, template, full_refresh=True, detect_deletes=True)
    assert refresh.status == "succeeded", refresh.message
    assert refresh.deleted == 3 and deleted_keys(t) == {str(i) for i in gone}
    asked = [u for u in requests_of(t, refresh.run_id) if "/odata" not in u]
    assert len(asked) == 4  # a control request for a seen row, then each unseen row
    assert {u.rsplit("/", 1)[1] for u in asked[1:]} == {str(i) for i in gone}


async def test_rows_deleted_while_a_full_refresh_pages_mark_no_wrong_row(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant)
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    body = {"resource": "studies", "delete": 40}  # some already seen, some ahead
    deleting = ChangeWhilePaging(t, 2, body)
    refresh = await run_template(
        aengine, template, full_refresh=True, detect_deletes=True, transport=deleting
    )
    assert refresh.status == "succeeded", refresh.message
    server = server_rows(t)
    marked = deleted_keys(t)
    assert not marked & set(server)  # no row the server has is marked
    assert refresh.deleted == len(marked) > 0
    removed = {str(i) for c in t.sim.stats()["changes"] for i in c.get("deleted", [])}
    assert marked <= removed


async def test_deletions_are_never_marked_by_a_failed_run_and_refused_with_a_filter(  # type: ignore[no-untyped-def]
    tenant, aengine
) -> None:
    from cc_console.errors import UsageError

    t = studies_tenant(tenant)
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    change(t, resource="studies", delete=5)

    class FailSecond(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner, self.seen = httpx.AsyncHTTPTransport(), 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.seen += 1
            if self.seen == 2:
                return httpx.Response(400, json=[{"message": "boom"}])
            return await self.inner.handle_async_request(request)

    broken = await run_template(
        aengine, template, full_refresh=True, detect_deletes=True, transport=FailSecond()
    )
    assert broken.status == "partial" and broken.deleted is None and deleted_keys(t) == set()
    resumed = await run_template(aengine, template, trigger="resume")  # the chain goes on
    assert resumed.status == "succeeded" and resumed.deleted == 5
    assert live_silver(t) == server_rows(t)

    with pytest.raises(UsageError, match="--full-refresh"):
        await run_template(aengine, template, detect_deletes=True)
    filtered = t.template("/studies/odata", incremental=STUDIES, **{"$filter": "id gt 3"})
    with pytest.raises(UsageError, match="filter"):
        await run_template(aengine, filtered, full_refresh=True, detect_deletes=True)


async def test_a_run_that_landed_nothing_resumes_from_where_it_started(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = studies_tenant(tenant)
    template = t.template("/studies/odata", incremental=STUDIES)
    await run_template(aengine, template)
    change(t, resource="studies", update=5)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=[{"message": "not now"}])

    broken = await run_template(aengine, template, transport=httpx.MockTransport(refuse))
    assert broken.status == "failed" and broken.pages == 0
    resumed = await run_template(aengine, template, trigger="resume")
    assert resumed.status == "succeeded", resumed.message
    assert resumed.keyset_from == broken.keyset_from  # the same lower bound, not the start
    assert silver(t) == server_rows(t)
