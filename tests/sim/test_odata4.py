"""The simulator's standard OData v4 service, held to the specification (not to our client).

Read with plain httpx and the standard library's XML parser: what a spec-following client
would see over a real socket.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urljoin
from xml.etree import ElementTree

import httpx
import pytest

from cc_console.sim.odata4 import DEFAULT_SIZES

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


class OData:
    def __init__(self, running: Any) -> None:
        self.root = running.running.odata_url + "/"
        self.http = running.http
        self.headers = {running.running.config.auth_header: running.running.config.api_key}

    def get(self, path: str, **options: Any) -> httpx.Response:
        """Options percent-encoded as RFC 3986 says (a space is %20, never +)."""
        query = "&".join(f"{k}={quote(str(v), safe='$')}" for k, v in options.items())
        url = urljoin(self.root, path) + (f"?{query}" if query else "")
        return self.http.get(url, headers=self.headers)

    def follow(self, path: str, **options: Any) -> tuple[list[dict[str, Any]], int]:
        """Every entity, following next links as opaque strings; and the requests it took."""
        response = self.get(path, **options)
        records, requests = [], 1
        while True:
            body = response.json()
            records += body["value"]
            link = body.get("@odata.nextLink")
            if link is None:
                return records, requests
            base = urljoin(response.url.__str__(), body["@odata.context"])
            response = self.http.get(urljoin(base, link), headers=self.headers)
            requests += 1


@pytest.fixture
def odata(simulator):  # type: ignore[no-untyped-def]
    return OData(simulator("clean", dialect="odata4", rate_limit={"enabled": False}))


def test_metadata_is_csdl_with_keys_aliases_and_a_derived_type(odata) -> None:  # type: ignore[no-untyped-def]
    response = odata.get("$metadata")
    assert response.status_code == 200 and "xml" in response.headers["content-type"]
    root = ElementTree.fromstring(response.content)
    schema = root.find(f".//{EDM}Schema")
    assert schema is not None and schema.get("Namespace") == "Demo.Sales"
    assert schema.get("Alias") == "Sales"
    types = {t.get("Name"): t for t in schema.iter(f"{EDM}EntityType")}
    keys = {name: [r.get("Name") for r in t.iter(f"{EDM}PropertyRef")] for name, t in types.items()}
    assert keys["OrderLine"] == ["OrderID", "LineNumber"] and keys["PriorityOrder"] == []
    assert types["PriorityOrder"].get("BaseType") == "Sales.Order"
    sets = {s.get("Name"): s.get("EntityType") for s in schema.iter(f"{EDM}EntitySet")}
    assert sets["Orders"] == "Sales.Order" and sets["Customers"] == "Demo.Sales.Customer"
    assert odata.get("").json()["value"][0]["kind"] == "EntitySet"  # the service document


def test_keys_have_gaps_and_counts_agree(odata) -> None:  # type: ignore[no-untyped-def]
    first = odata.get("Orders", **{"$top": 10, "$count": "true"}).json()
    assert first["@odata.count"] == DEFAULT_SIZES["Orders"]
    ids = [o["OrderID"] for o in first["value"]]
    assert ids[0] == 10248 and ids != list(range(ids[0], ids[0] + 10))  # not 1..n, with gaps
    assert odata.get("Orders/$count").text == str(DEFAULT_SIZES["Orders"])
    lines = odata.get("OrderLines", **{"$top": 3}).json()["value"]
    assert [(line["OrderID"], line["LineNumber"]) for line in lines] == [
        (10248, 1),
        (10248, 2),
        (10248, 3),
    ]


def test_a_capped_set_pages_by_relative_next_links_with_opaque_tokens(odata) -> None:  # type: ignore[no-untyped-def]
    page = odata.get("Products", **{"$top": 1000}).json()
    assert len(page["value"]) == 50  # the set's maximum page size, not $top
    link = page["@odata.nextLink"]
    assert not link.startswith("http") and "$skiptoken=" in link  # relative, opaque
    records, requests = odata.follow("Products", **{"$top": 1000})
    ids = [p["ProductID"] for p in records]
    assert len(ids) == len(set(ids)) == DEFAULT_SIZES["Products"] and requests == 2


def test_an_exactly_full_last_page_is_followed_by_an_empty_one(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator("clean", dialect="odata4", odata4_sizes={"Products": 100})
    odata = OData(sim)
    records, requests = odata.follow("Products")
    assert len(records) == 100 and requests == 3  # 50, 50, then an empty page without a link
    last = odata.get("Products").json()
    assert len(last["value"]) == 50 and "@odata.nextLink" in last


def test_a_plus_is_a_plus_and_strings_double_their_quotes(odata) -> None:  # type: ignore[no-untyped-def]
    plus = odata.get("Customers", **{"$filter": "startswith(Phone,'+49')", "$count": "true"})
    assert plus.status_code == 200 and plus.json()["@odata.count"] > 0
    raw = odata.http.get(
        odata.root + "Customers?$filter=startswith(Phone,'+49')&$count=true", headers=odata.headers
    )  # an unencoded + stays a +
    assert raw.json()["@odata.count"] == plus.json()["@odata.count"]
    quoted = odata.get("Customers", **{"$filter": "CompanyName eq 'O''Brien & Sons'"}).json()
    assert [c["CustomerID"] for c in quoted["value"]] == ["C0003"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"$orderby": "id asc"}, "Could not find a property named 'id' on type 'Demo.Sales.Order'"),
        ({"$filter": "OrderID eq '5'"}, "incompatible types"),
        ({"$filter": "Freight"}, "must evaluate to a single boolean"),
        ({"$filter": "OrderID eq"}, "Syntax error"),
        ({"$top": "-1"}, "non-negative integer"),
        ({"$frobnicate": "1"}, "'$frobnicate' is not supported"),
        ({"$skiptoken": "not-a-token"}, "skip token is not valid"),
    ],
)
def test_bad_queries_get_odata_error_bodies(odata, options: dict[str, str], message: str) -> None:  # type: ignore[no-untyped-def]
    response = odata.get("Orders", **options)
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"] and error["code"]


def test_unknown_sets_and_missing_keys_are_odata_errors(odata) -> None:  # type: ignore[no-untyped-def]
    missing = odata.get("Ordrs")
    assert missing.status_code == 404 and "Ordrs" in missing.json()["error"]["message"]
    denied = httpx.get(odata.root + "Orders")  # without the key
    assert denied.status_code == 401 and "error" in denied.json()


def test_filters_orders_and_in(odata) -> None:  # type: ignore[no-untyped-def]
    body = odata.get(
        "Orders",
        **{
            "$filter": "ShipCountry in ('Germany','Mexico') and Freight gt 100.5 and year(OrderDate) ge 2024",
            "$orderby": "Freight desc,OrderID",
            "$select": "OrderID,Freight,ShipCountry",
            "$top": 5,
        },
    ).json()
    rows = body["value"]
    assert rows and all(set(r) == {"OrderID", "Freight", "ShipCountry"} for r in rows)
    assert all(r["ShipCountry"] in ("Germany", "Mexico") and r["Freight"] > 100.5 for r in rows)
    assert [r["Freight"] for r in rows] == sorted((r["Freight"] for r in rows), reverse=True)


def test_an_entity_by_its_key_single_composite_or_missing(odata) -> None:  # type: ignore[no-untyped-def]
    order = odata.get("Orders(10250)")
    assert order.status_code == 200 and order.json()["OrderID"] == 10250
    assert order.json()["@odata.context"] == "$metadata#Orders/$entity"
    line = odata.get("OrderLines(OrderID=10248,LineNumber=2)")
    assert line.status_code == 200 and line.json()["LineNumber"] == 2
    customer = odata.get(f"Customers({quote(chr(39) + 'C0003' + chr(39))})")
    assert customer.status_code == 200 and customer.json()["CustomerID"] == "C0003"
    missing = odata.get("Orders(10254)")  # every seventh number is a gap
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NotFound"
    assert odata.get("OrderLines(OrderID=10248)").status_code == 400


def test_orders_carry_seven_digit_modification_stamps_that_tie(odata) -> None:  # type: ignore[no-untyped-def]
    rows, _ = odata.follow("Orders")
    stamps = [r["LastModified"] for r in rows]
    assert all(len(s.split(".")[1]) == 8 and s.endswith("Z") for s in stamps)
    assert len(set(stamps)) < len(stamps)  # deliberate ties
    tied = max(set(stamps), key=stamps.count)
    same = odata.get("Orders", **{"$filter": f"LastModified eq {tied}", "$count": "true"})
    assert same.json()["@odata.count"] == stamps.count(tied)
    tick_later = tied[:-2] + str((int(tied[-2]) + 1) % 10) + "Z"  # the seventh digit
    assert odata.get("Orders", **{"$filter": f"LastModified eq {tick_later}"}).json()["value"] == [
        r for r in rows if r["LastModified"] == tick_later
    ]
