"""The pure part of the cutover: one legacy row → what the backfill writes."""

from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace

import orjson
import pytest

from cc_console.migrate.transform import LEGACY_NS, content_id, fast_uuid5, transform

BASE = "/CCSWeb/api/v1"


def legacy_row(**overrides: object) -> SimpleNamespace:
    row = {
        "id": 1,
        "called_at": datetime(2026, 10, 1, 12, 0, 0),
        "client_name": "feature-api-client",
        "method": "get",
        "url": f"https://t.example{BASE}/studies/odata?$top=100&$skip=200&$filter=name%20eq%20%27A%27",
        "request_headers": '{"Accept": "application/json", "X-ApiKey": "FAKE-KEY-for-tests"}',
        "response_status": 200,
        "response_headers": '{"Content-Type": "application/json"}',
        "response_body": orjson.dumps({"items": [{"id": 1}, {"id": 2}], "count": 202}).decode(),
        "duration_ms": 250,
    }
    row.update(overrides)
    return SimpleNamespace(**row)


@pytest.mark.parametrize("name", ["", "run:x", "response:6f1c1f0e", "é|ü|2026-01-01T00:00:00"])
def test_fast_uuid5_is_uuid5(name: str) -> None:
    assert fast_uuid5(name) == str(uuid.uuid5(LEGACY_NS, name))


def test_a_page_maps_with_the_engine_rules() -> None:
    call = transform(legacy_row(), base_path=BASE)
    assert call.endpoint == "/studies/odata" and call.method == "GET"
    assert call.params == {"$top": "100", "$skip": "200", "$filter": "name eq 'A'"}
    assert (call.body_is_json, call.parse_ok, call.odata_count, call.items) == (True, True, 202, 2)
    assert call.sent_at.tzinfo is not None and call.error_kind is None
    assert call.keys_scrubbed == 1 and "FAKE-KEY-for-tests" not in call.headers_json
    assert orjson.loads(call.headers_json)["x-apikey"].startswith("***sha256:")


def test_duplicates_share_an_id_and_a_different_body_does_not() -> None:
    assert content_id(legacy_row(id=1)) == content_id(legacy_row(id=2))
    assert content_id(legacy_row()) != content_id(legacy_row(response_body="[]"))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, '{"items": [{"id": 1}', (False, False)),  # truncated
        (503, "<html><body>503</body></html>", (False, False)),
        (429, '{"message": "slow down"}', (True, False)),  # JSON, but not a page
        (200, '{"items": [1, 2]}', (True, False)),  # records must be objects
        (200, '{"value": [], "x": "\\u0000"}', (False, False)),  # jsonb refuses NUL: kept as text
        (200, "null", (False, False)),
    ],
)
def test_bodies_that_are_not_pages(status: int, body: str, expected: tuple[bool, bool]) -> None:
    call = transform(legacy_row(response_status=status, response_body=body), base_path=BASE)
    assert (call.body_is_json, call.parse_ok) == expected
    assert (call.error_kind is not None) == (status >= 400)


def test_a_call_without_an_answer_has_no_response() -> None:
    call = transform(
        legacy_row(response_status=None, response_body=None, response_headers=None),
        base_path=BASE,
    )
    assert call.status is None and call.body is None and not call.parse_ok


def test_headers_that_are_not_json_are_dropped_not_copied() -> None:
    call = transform(legacy_row(request_headers="X-ApiKey: FAKE-KEY-for-tests"), base_path=BASE)
    assert "FAKE-KEY" not in call.headers_json


def test_the_configs_own_auth_header_is_masked_whatever_its_name() -> None:
    headers = '{"Accept": "application/json", "X-Custom-Key": "FAKE-KEY-for-tests"}'
    plain = transform(legacy_row(request_headers=headers), base_path=BASE)
    assert plain.keys_scrubbed == 0  # a name nobody said was secret
    call = transform(
        legacy_row(request_headers=headers), base_path=BASE, masked=frozenset({"x-custom-key"})
    )
    assert call.keys_scrubbed == 1 and "FAKE-KEY-for-tests" not in call.headers_json
    assert orjson.loads(call.headers_json)["x-custom-key"].startswith("***sha256:")
