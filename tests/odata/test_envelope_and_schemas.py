"""Envelope parsing, query encoding and record validation (pure, no I/O)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from cc_console.odata.envelope import EnvelopeError, parse_page
from cc_console.odata.query import encode_query, format_filter, literal
from cc_console.odata.resources import resource_name, validate_records


@pytest.mark.parametrize(
    ("body", "shape", "count", "link"),
    [
        pytest.param(
            b'{"@odata.context":"x","@odata.count":3,"value":[{"id":1}],'
            b'"@odata.nextLink":"http://h/n"}',
            "odata",
            3,
            "http://h/n",
            id="odata",
        ),
        pytest.param(
            b'{"@count":3,"value":[{"id":1}],"@nextLink":"http://h/n"}',
            "odata",
            3,
            "http://h/n",
            id="odata-4.01-prefixless",
        ),
        pytest.param(
            b'{"items":[{"id":1}],"nextPageLink":null,"count":null}',
            "pageresult",
            None,
            None,
            id="pageresult",
        ),
        pytest.param(
            b'{"Items":[{"id":1}],"NextPageLink":"http://h/n","Count":7}',
            "pageresult",
            7,
            "http://h/n",
            id="pageresult-swagger-casing",
        ),
        pytest.param(b'[{"id":1}]', "array", None, None, id="array"),
    ],
)
def test_three_envelopes(body, shape, count, link) -> None:  # type: ignore[no-untyped-def]
    page = parse_page(body)
    assert (page.shape, page.count, page.next_link) == (shape, count, link)
    assert page.records == [{"id": 1}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"<html>502</html>", "not JSON", id="html"),
        pytest.param(b'{"items": [{"id": 1}', "not JSON", id="truncated"),
        pytest.param(b'{"data": []}', "unknown envelope", id="unknown"),
        pytest.param(b'{"value": [1, 2]}', "every record must be an object", id="scalars"),
        pytest.param(b'{"value": [], "@odata.count": "3"}', "count", id="count-as-string"),
        pytest.param(b'"hello"', "not a page", id="string"),
    ],
)
def test_bad_bodies_say_why(body, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EnvelopeError, match=message):
        parse_page(body)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("O'Brien", "'O''Brien'"),
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (2.5, "2.5"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (
            datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2025-01-02T01:04:05Z",
        ),
        (date(2025, 1, 2), "2025-01-02T00:00:00Z"),
    ],
)
def test_literals(value, text) -> None:  # type: ignore[no-untyped-def]
    assert literal(value) == text


def test_encoding_keeps_a_value_one_option() -> None:
    query = encode_query(
        {
            "$filter": format_filter("name eq {n}", n="a&$top=1#b+c d"),
            "$top": 10,
            "$count": True,
            "$select": None,
        }
    )
    assert query == ("$filter=name%20eq%20'a%26$top%3D1%23b%2Bc%20d'&$top=10&$count=true")


def test_resource_names() -> None:
    assert resource_name("/studies/odata") == "studies"
    assert resource_name("/studies/3/subjects/odata") == "subjects"
    assert resource_name("/patient-visits/odata/") == "patient-visits"


def test_validation_flags_bad_records_and_caps_the_sample() -> None:
    good = {"id": 1, "uid": "u", "name": "Site A", "active": True}
    records = [good] + [{"id": str(n), "name": 5} for n in range(2, 12)]
    result = validate_records("sites", records, sample=3)
    assert not result.ok and result.invalid_keys == [str(n) for n in range(2, 12)]
    assert len(result.errors_sample) == 3
    assert result.drift["retyped"] == ["id", "name"]


def test_swagger_casing_previews_validate() -> None:
    record = {"id": 1, "arm": {"Id": 2, "Uid": "u", "Name": "Arm A"}, "status": "Randomized"}
    assert validate_records("subjects", [record]).ok


def test_enum_values_are_checked() -> None:
    result = validate_records("patients", [{"id": 1, "status": "Zombie"}])
    assert not result.ok and result.drift["retyped"] == ["status"]


def test_unknown_resource_is_not_validated() -> None:
    result = validate_records("monitor-queries", [{"id": 7, "anything": 1}])
    assert result.ok and result.schema_name == "unknown"


def test_a_record_without_its_key_is_rejected_whatever_the_schema() -> None:
    records = [{"id": 1}, {"name": "no key"}, {"id": None}, {"id": {"nested": 1}}]
    result = validate_records("monitor-queries", records)
    assert not result.ok and result.rejected == 3 and result.invalid == 3
    assert [e["position"] for e in result.errors_sample] == [1, 2, 3]
    assert {e["error"] for e in result.errors_sample} == {"missing_key"}
    composite = validate_records("lines", [{"a": 1, "b": 2}, {"a": 1}], key=("a", "b"))
    assert composite.rejected == 1
