"""Paging, envelopes and OData query options of the simulator, over a real socket."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.simulator_fixture import SMALL


def all_records(sim, resource: str) -> list[dict]:  # type: ignore[no-untyped-def]
    records, skip = [], 0
    while True:
        page = sim.get(f"/{resource}/odata", **{"$top": 100, "$skip": skip}).json()["items"]
        records += page
        if len(page) < 100:
            return records
        skip += 100


def test_paging_totals_equal_count(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    first = sim.get("/subjects/odata", **{"$top": 7, "$count": "true"}).json()
    assert first["count"] == SMALL["subjects"] and len(first["items"]) == 7
    ids = [r["id"] for r in all_records(sim, "subjects")]
    assert ids == sorted(set(ids)) and len(ids) == first["count"]


def test_defaults_and_limits_of_top_and_skip(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    assert len(sim.get("/patients/odata").json()["items"]) == 50
    assert sim.get("/patients/odata", **{"$top": 0}).json()["items"] == []
    assert sim.get("/patients/odata", **{"$skip": 10_000}).json()["items"] == []
    assert sim.get("/patients/odata").json()["count"] is None  # only with $count=true
    over = sim.get("/patients/odata", **{"$top": 1001})
    assert over.status_code == 400
    assert over.json() == [
        {
            "error": "InvalidQuery",
            "message": "The limit of '1000' for Top query has been exceeded. "
            "The value from the incoming request is '1001'.",
            "data": None,
        }
    ]
    for bad in ({"$top": -1}, {"$skip": "x"}, {"$frobnicate": 1}):
        assert sim.get("/patients/odata", **bad).status_code == 400
    clamped = simulator(top_overflow="clamp").get("/patients/odata", **{"$top": 5000})
    assert clamped.status_code == 200 and len(clamped.json()["items"]) == SMALL["patients"]


@pytest.mark.parametrize(
    ("envelope", "casing", "resource", "keys"),
    [
        pytest.param(
            "pageresult", "camel", "studies", {"items", "nextPageLink", "count"}, id="pageresult"
        ),
        pytest.param(
            "pageresult", "swagger", "subjects", {"Items", "NextPageLink", "Count"}, id="swagger"
        ),
        pytest.param(
            "odata", "camel", "visits", {"@odata.context", "@odata.count", "value"}, id="odata"
        ),
        pytest.param(
            "vendor",
            "camel",
            "elements",
            {"items", "nextPageLink", "count"},
            id="vendor-pageresult",
        ),
        pytest.param("vendor", "camel", "studies", None, id="vendor-array"),
        pytest.param("array", "camel", "visits", None, id="array"),
    ],
)
def test_envelopes(simulator, envelope, casing, resource, keys) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(envelope=envelope, casing=casing)
    body = sim.get(f"/{resource}/odata", **{"$top": 3, "$count": "true"}).json()
    if keys is None:
        assert isinstance(body, list) and len(body) == 3
        return
    assert set(body) == keys
    if casing == "swagger":
        assert set(body["Items"][0]["arm"]) == {"Id", "Uid", "Name"}
        assert set(body["Items"][0]["study"]) == {"id", "uid", "name"}


def test_server_driven_paging_with_skip_and_skiptoken(simulator) -> None:  # type: ignore[no-untyped-def]
    for skiptoken in (False, True):
        sim = simulator(server_page_size=30, skiptoken=skiptoken, envelope="odata")
        url, seen, pages = "/elements/odata?$top=1000&$count=true", [], 0
        while url:
            body = sim.http.get(url).json()
            seen += [r["id"] for r in body["value"]]
            url = body.get("@odata.nextLink")
            pages += 1
            if url:
                assert url.startswith(sim.running.base_url)
                assert ("$skiptoken=" in url) is skiptoken
        assert sorted(seen) == list(range(1, SMALL["elements"] + 1))
        assert pages == -(-SMALL["elements"] // 30)


def test_orderby_multiple_keys(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    body = sim.get("/studies/odata", **{"$orderby": "phase desc, id asc", "$top": 1000}).json()
    got = [(r["phase"], r["id"]) for r in body["items"]]
    by_id = sorted(got, key=lambda t: t[1])
    assert got == sorted(by_id, key=lambda t: t[0], reverse=True)  # stable: ties keep id asc
    assert len(got) == SMALL["studies"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param(
            "status eq '07. Enrollment'", lambda r: r["status"] == "07. Enrollment", id="string-eq"
        ),
        pytest.param(
            "contains(title,'it''s simulated')",
            lambda r: "it's simulated" in r["title"],
            id="doubled-quote",
        ),
        pytest.param(
            "createdOn gt 2024-06-01T00:00:00Z",
            lambda r: (
                datetime.fromisoformat(r["createdOn"]).replace(tzinfo=UTC)
                > datetime(2024, 6, 1, tzinfo=UTC)
            ),
            id="datetime-z",
        ),
        pytest.param("subcategory eq null", lambda r: r["subcategory"] is None, id="null"),
        pytest.param(
            "launchYear ge 2020 and not (phase eq 'Phase I' or phase eq 'Phase II')",
            lambda r: r["launchYear"] >= 2020 and r["phase"] not in ("Phase I", "Phase II"),
            id="and-not-or-parens",
        ),
        pytest.param(
            "startswith(protocolNumber,'PRT-0001') or endswith(name,'-0003')",
            lambda r: r["protocolNumber"].startswith("PRT-0001") or r["name"].endswith("-0003"),
            id="functions",
        ),
        pytest.param("managingSite/id le 3", lambda r: r["managingSite"]["id"] <= 3, id="path"),
    ],
)
def test_filters_select_the_right_rows(simulator, expression, expected) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    everything = sim.get("/studies/odata", **{"$top": 1000}).json()["items"]
    want = sorted(r["id"] for r in everything if expected(r))
    body = sim.get("/studies/odata", **{"$filter": expression, "$top": 1000, "$count": "true"})
    assert body.status_code == 200, body.text
    got = sorted(r["id"] for r in body.json()["items"])
    assert got == want and body.json()["count"] == len(want)
    assert 0 < len(want) < len(everything)  # the filter really discriminates


def test_filter_by_guid_and_boolean(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    site = sim.get("/sites/odata", **{"$top": 1, "$skip": 4}).json()["items"][0]
    by_uid = sim.get("/sites/odata", **{"$filter": f"uid eq {site['uid']}"}).json()["items"]
    assert [r["id"] for r in by_uid] == [site["id"]]
    active = sim.get("/sites/odata", **{"$filter": "active eq true", "$top": 100}).json()["items"]
    assert active and all(r["active"] for r in active)


@pytest.mark.parametrize(
    "expression",
    ["nosuchfield eq 1", "name eq 'unterminated", "(id eq 1", "id eq", "bogus(name)"],
)
def test_invalid_filters_answer_400_with_the_vendor_body(simulator, expression) -> None:  # type: ignore[no-untyped-def]
    response = simulator().get("/studies/odata", **{"$filter": expression})
    assert response.status_code == 400
    (error,) = response.json()
    assert set(error) == {"error", "message", "data"} and error["message"]


def test_select(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    items = sim.get("/subjects/odata", **{"$select": "id,status", "$top": 3}).json()["items"]
    assert [set(r) for r in items] == [{"id", "status"}] * 3
    assert sim.get("/subjects/odata", **{"$select": "id,nope"}).status_code == 400


def test_nested_subjects_of_a_study_and_edition_501(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    subjects = sim.get("/studies/3/subjects/odata", **{"$top": 1000}).json()["items"]
    assert subjects and {r["study"]["id"] for r in subjects} == {3}
    query_form = sim.get("/subjects/odata", studyId=3, **{"$top": 1000}).json()["items"]
    assert [r["id"] for r in query_form] == [r["id"] for r in subjects]
    assert sim.get("/studies/9999/subjects/odata").status_code == 404
    assert sim.get("/nope/odata").status_code == 404
    ccs = simulator(instance_type="CCS")
    assert ccs.get("/site-payments/odata").status_code == 501


def test_data_is_deterministic_by_seed_and_fake(simulator) -> None:  # type: ignore[no-untyped-def]
    a = simulator(seed=1).get("/patients/odata", **{"$top": 20}).json()["items"]
    b = simulator(seed=1).get("/patients/odata", **{"$top": 20}).json()["items"]
    c = simulator(seed=2).get("/patients/odata", **{"$top": 20}).json()["items"]
    assert a == b and a != c
    assert all(r["primaryEmail"]["email"].endswith("@example.invalid") for r in a)
    assert all(r["mrn"].startswith("SIM-") for r in a)


def test_a_million_records_cost_little(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(sizes={"patient-visits": 1_000_000})
    body = sim.get(
        "/patient-visits/odata", **{"$top": 1000, "$skip": 998_500, "$count": "true"}
    ).json()
    assert body["count"] == 1_000_000 and len(body["items"]) == 1000
    assert body["items"][-1]["id"] == 999_500
    factory = sim.running.server.config.app.state.simulator.factory
    assert len(factory._cache) <= 4  # only the chunks this page touched were generated


def test_mutation_makes_naive_skip_paging_lose_or_repeat(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(mutate_rate=1.0, seed=3)
    seen = [r["id"] for r in all_records(sim, "patients")]
    stats = sim.stats()["mutations"]
    assert stats["inserted"] + stats["deleted"] > 0
    final = {r["id"] for r in sim.get("/patients/odata", **{"$top": 1000}).json()["items"]}
    assert len(seen) != len(set(seen)) or set(seen) != final


@pytest.mark.parametrize(
    ("expression", "types"),
    [
        pytest.param(
            "createdOn gt 2024-06-01", "'Edm.DateTimeOffset' and 'Edm.Date'", id="date-only"
        ),
        pytest.param(
            "createdOn gt '2024-06-01T00:00:00Z'",
            "'Edm.DateTimeOffset' and 'Edm.String'",
            id="quoted-datetime",
        ),
        pytest.param("name eq 5", "'Edm.String' and 'Edm.Int64'", id="string-vs-number"),
        pytest.param("id gt '5'", "'Edm.Int32' and 'Edm.String'", id="number-vs-string"),
        pytest.param("uid eq 'not-a-guid'", "'Edm.Guid' and 'Edm.String'", id="guid-vs-string"),
    ],
)
def test_type_mismatches_the_vendor_rejects_are_400s_with_its_body(
    simulator, expression, types
) -> None:  # type: ignore[no-untyped-def]
    response = simulator().get("/studies/odata", **{"$filter": expression})
    assert response.status_code == 400, response.text
    (error,) = response.json()
    assert error["error"] == "InvalidQuery"
    assert "incompatible types" in error["message"] and types in error["message"]


def test_in_and_year_are_supported(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    everything = sim.get("/studies/odata", **{"$top": 1000}).json()["items"]
    wanted = {"07. Enrollment", "01. Pending"}
    body = sim.get(
        "/studies/odata",
        **{
            "$filter": "status in ('07. Enrollment','01. Pending') and year(createdOn) ge 2024",
            "$top": 1000,
        },
    )
    got = {r["id"] for r in body.json()["items"]}
    want = {r["id"] for r in everything if r["status"] in wanted and r["createdOn"][:4] >= "2024"}
    assert got == want and want


def test_visits_and_elements_are_scoped_by_study_both_ways(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    for resource in ("visits", "elements"):
        study = sim.get(f"/{resource}/odata", **{"$top": 1}).json()["items"][0]["study"]["id"]
        nested = sim.get(f"/studies/{study}/{resource}/odata", **{"$top": 1000}).json()["items"]
        by_query = sim.get(f"/{resource}/odata", studyId=study, **{"$top": 1000}).json()["items"]
        assert nested and [r["id"] for r in nested] == [r["id"] for r in by_query]
        assert {r["study"]["id"] for r in nested} == {study}
        assert sim.get(f"/{resource}/odata", studyId=99999).status_code == 404


def test_studies_are_updated_after_they_were_created_and_updates_move_the_stamp(simulator) -> None:  # type: ignore[no-untyped-def]
    studies = simulator().get("/studies/odata", **{"$top": 1000}).json()["items"]
    assert all(s["createdOn"] <= s["lastUpdatedOn"] for s in studies)
    sim = simulator(mutate_rate=1.0, seed=5, rate_limit={"enabled": False})
    for _ in range(40):
        sim.get("/studies/odata", **{"$top": 1})
    assert sim.stats()["mutations"]["updated"] > 0
    latest = sim.get("/studies/odata", **{"$orderby": "lastUpdatedOn desc", "$top": 1}).json()
    assert latest["items"][0]["lastUpdatedOn"] > max(s["lastUpdatedOn"] for s in studies)


@pytest.mark.parametrize(
    ("shape", "pattern"),
    [
        ("minutes", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00$"),
        ("fraction", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.\d{7}$"),
        ("utc", r"Z$"),
        ("offset", r"-05:00$"),
    ],
)
def test_one_timestamp_shape_per_tenant(simulator, shape, pattern) -> None:  # type: ignore[no-untyped-def]
    import re

    sites = simulator(timestamps=shape).get("/sites/odata", **{"$top": 5}).json()["items"]
    assert all(re.search(pattern, s["createdOn"]) for s in sites)


def test_vendor_details_a_ccs_payment_501_and_the_pascalcase_patient_visit(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator("vendor")
    assert (
        sim.get("/site-payments/5").status_code == 501
        and sim.get("/site-payments/5").content == b""
    )
    detail = sim.get("/patient-visits/5").json()
    assert {"PatientVisitId", "PatientVisitUID", "VisitId", "Status", "Elements"} <= set(detail)
    assert sim.get("/subjects/odata", **{"$select": "id"}).status_code == 400  # PageResult
    assert sim.get("/studies/odata", **{"$select": "id", "$top": 1}).status_code == 200  # array


def test_a_seek_to_the_bound_a_filter_implies_answers_what_a_full_scan_does() -> None:
    # the simulator starts an ordered scan at the lower bound the filter implies for the
    # first order property (as a server's index seek); hypothesis checks it never changes
    # an answer, whatever the and/or/not nesting
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cc_console.sim.data import RecordFactory
    from cc_console.sim.dataset import Dataset
    from cc_console.sim.query import compile_filter, compile_orderby, compile_seek, edm_types

    dataset = Dataset(RecordFactory(7, {"studies": 120}), 7)
    dataset.change("studies", update=30, tie=True)
    stamps = sorted({dataset.record("studies", i)["lastUpdatedOn"] for i in range(1, 121)})
    types = edm_types([dataset.schema("studies")])
    orderby = "lastUpdatedOn asc,id asc"
    order = compile_orderby(orderby, dataset.schema("studies"), "Study")

    comparison = st.one_of(
        st.builds(
            lambda op, w: f"lastUpdatedOn {op} {w}Z",
            st.sampled_from(["gt", "ge", "eq", "lt", "ne"]),
            st.sampled_from(stamps),
        ),
        st.builds(
            lambda op, n: f"id {op} {n}", st.sampled_from(["gt", "eq", "le"]), st.integers(0, 130)
        ),
        st.just("lastUpdatedOn eq null"),
    )
    filters = st.recursive(
        comparison,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a} and {b})", inner, inner),
            st.builds(lambda a, b: f"({a} or {b})", inner, inner),
            st.builds(lambda a: f"not ({a})", inner),
        ),
        max_leaves=5,
    )

    seeks = []

    @settings(max_examples=200, deadline=None)
    @given(text=filters, skip=st.integers(0, 20), top=st.integers(1, 40))
    def check(text: str, skip: int, top: int) -> None:
        predicate = compile_filter(text, types, "Study")
        seek = compile_seek(text, types, "Study", orderby)
        seeks.append(seek is not None)
        plain = dataset.query(
            "studies", skip=skip, top=top, predicate=predicate, predicate_key=text,
            order=order, order_key=orderby,
        )  # fmt: skip
        sought = dataset.query(
            "studies", skip=skip, top=top, predicate=predicate, predicate_key=text,
            order=order, order_key=orderby, seek=seek,
        )  # fmt: skip
        assert (sought.ids, sought.total, sought.more) == (plain.ids, plain.total, plain.more)

    check()
    assert 0 < sum(seeks) < len(seeks)  # both paths were taken
    keyset = "(lastUpdatedOn gt 2026-07-24T08:01:00Z or (lastUpdatedOn eq 2026-07-24T08:01:00Z and id gt 5))"
    assert compile_seek(keyset, types, "Study", orderby) is not None
