"""Retry and backoff of the resilient client (respx), every attempt in the audit log."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx
from sqlalchemy import text

from cc_console.client.errors import ApiError
from cc_console.client.http import ResilientClient
from tests.client.conftest import BASE, policy
from tests.clock import NEW_YEARS_EVE
from tests.conftest import FAKE_KEY

URL = f"{BASE}/studies/odata?$top=10"


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(aengine, config_id, sleep, clock=None, **overrides) -> ResilientClient:  # type: ignore[no-untyped-def]
    # the shared rate-limit coordinator waits on the database clock: tested on its own
    return ResilientClient(
        policy(config_id, **overrides),
        FAKE_KEY,
        aengine,
        sleep=sleep,
        coordinate=False,
        **({"clock": clock} if clock else {}),
    )


def log_rows(database) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    with database.engine.connect() as conn:
        requests = conn.execute(
            text("SELECT attempt_no, headers FROM cc_api_request_log ORDER BY sent_at")
        ).all()
        responses = (
            conn.execute(text("SELECT status_code FROM cc_api_response_log ORDER BY sent_at"))
            .scalars()
            .all()
        )
        errors = conn.execute(
            text("SELECT kind, retryable FROM cc_error_event ORDER BY occurred_at")
        ).all()
    return requests, responses, errors


@respx.mock
async def test_retry_after_seconds_is_honoured(aengine, config_id, database) -> None:  # type: ignore[no-untyped-def]
    route = respx.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": "7"}),
            httpx.Response(200, json={"items": [], "count": 0, "nextPageLink": None}),
        ]
    )
    sleep = FakeSleep()
    api = client(aengine, config_id, sleep)
    attempt = await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert attempt.attempt_no == 2 and route.call_count == 2
    assert sleep.calls == [7.0]  # Retry-After beats the 0.5 s backoff
    requests, responses, errors = log_rows(database)
    assert [r.attempt_no for r in requests] == [1, 2]
    assert responses == [503]  # the successful one is landed by the engine, not here
    assert errors == [("http_503", True)]
    sent = route.calls[0].request.headers["X-ApiKey"]
    assert sent == FAKE_KEY  # the key goes to the API...
    assert requests[0].headers["x-apikey"].startswith("***sha256:")  # ...never to the log


@respx.mock
async def test_retry_after_http_date_and_cap(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    later = format_datetime(NEW_YEARS_EVE + timedelta(seconds=600), usegmt=True)
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": later}),
            httpx.Response(200, json=[]),
        ]
    )
    sleep = FakeSleep()
    api = client(aengine, config_id, sleep, clock=lambda: NEW_YEARS_EVE, retry_after_cap_s=30)
    await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert sleep.calls == [30]  # the HTTP-date is 600 s away (next year): capped at 30


@respx.mock
async def test_retry_after_http_date_is_read_against_the_clock(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    soon = format_datetime(NEW_YEARS_EVE + timedelta(seconds=4), usegmt=True)
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": soon}),
            httpx.Response(200, json=[]),
        ]
    )
    sleep = FakeSleep()
    api = client(aengine, config_id, sleep, clock=lambda: NEW_YEARS_EVE, backoff_base_s=0.1)
    await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert sleep.calls == [pytest.approx(4, abs=1)]  # the date's whole seconds, not the backoff


@respx.mock
async def test_exponential_backoff_until_max_retries(aengine, config_id, database) -> None:  # type: ignore[no-untyped-def]
    route = respx.get(URL).mock(return_value=httpx.Response(500))
    sleep = FakeSleep()
    api = client(aengine, config_id, sleep, max_retries=3, backoff_max_s=1.5)
    with pytest.raises(ApiError) as info:
        await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert info.value.kind == "http_500" and route.call_count == 4
    assert sleep.calls == [0.5, 1.0, 1.5]  # base 0.5 doubling, capped at 1.5
    requests, responses, errors = log_rows(database)
    assert [r.attempt_no for r in requests] == [1, 2, 3, 4]
    assert responses == [500] * 4 and len(errors) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 501])
@respx.mock
async def test_non_retryable_statuses_are_not_retried(aengine, config_id, database, status) -> None:  # type: ignore[no-untyped-def]
    route = respx.get(URL).mock(return_value=httpx.Response(status, json=[{"error": "x"}]))
    api = client(aengine, config_id, FakeSleep())
    with pytest.raises(ApiError) as info:
        await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert route.call_count == 1 and not info.value.retryable
    assert info.value.kind == f"http_{status}"
    assert log_rows(database)[2] == [(f"http_{status}", False)]
    # a refused key says which header it went in and how to send it in another
    hinted = "the key went in the X-ApiKey header" in str(info.value)
    assert hinted == (status in (401, 403))
    if hinted:
        assert "config edit NAME --auth-header NAME" in str(info.value)
        assert FAKE_KEY not in str(info.value)


@respx.mock
async def test_500_can_be_made_non_retryable(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    route = respx.get(URL).mock(return_value=httpx.Response(500))
    api = client(aengine, config_id, FakeSleep(), retry_http_500=False)
    with pytest.raises(ApiError):
        await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert route.call_count == 1


@respx.mock
async def test_transport_errors_are_classified_and_retried(aengine, config_id, database) -> None:  # type: ignore[no-untyped-def]
    respx.get(URL).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            httpx.RemoteProtocolError("peer closed"),
            httpx.Response(200, json=[]),
        ]
    )
    sleep = FakeSleep()
    api = client(aengine, config_id, sleep)
    attempt = await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert attempt.attempt_no == 4
    requests, responses, errors = log_rows(database)
    assert [e.kind for e in errors] == ["connect", "timeout", "reset"]
    assert responses == []  # no response to those attempts: only error events


@respx.mock
async def test_total_time_budget_stops_retrying(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    route = respx.get(URL).mock(return_value=httpx.Response(503))
    api = client(
        aengine,
        config_id,
        asyncio.sleep,
        max_retries=50,
        total_timeout_s=0.3,
        backoff_base_s=0.1,
        backoff_max_s=0.1,
    )
    with pytest.raises(ApiError):
        await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert 2 <= route.call_count <= 6  # stopped by the 0.3 s budget, far below 51 attempts


@respx.mock
async def test_no_request_is_sent_when_the_log_cannot_be_written(
    aengine, config_id, database
) -> None:  # type: ignore[no-untyped-def]
    route = respx.get(URL).mock(return_value=httpx.Response(200, json=[]))
    with database.engine.begin() as conn:  # make the request log refuse writes
        conn.execute(
            text("ALTER TABLE cc_api_request_log ADD CONSTRAINT no_writes CHECK (false) NOT VALID")
        )
    api = client(aengine, config_id, FakeSleep())
    with pytest.raises(ApiError) as info:
        await api.get(URL, endpoint_path="/studies/odata")
    await api.aclose()
    assert info.value.kind == "db" and route.call_count == 0
