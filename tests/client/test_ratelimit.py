"""Rate-limit headers and the database-shared coordinator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import text

from cc_console.client.ratelimit import (
    RateInfo,
    RateLimitCoordinator,
    parse_rate_headers,
    parse_retry_after,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("garbage", None),
        (None, None),
        (format_datetime(NOW - timedelta(seconds=90), usegmt=True), 0.0),
    ],
)
def test_retry_after_forms(value, seconds) -> None:  # type: ignore[no-untyped-def]
    assert parse_retry_after(value, NOW) == seconds


def test_x_ratelimit_epoch_and_delta_reset() -> None:
    epoch = int((NOW + timedelta(seconds=30)).timestamp())
    info = parse_rate_headers(
        {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(epoch)},
        NOW,
    )
    assert info == RateInfo(300, 0, NOW + timedelta(seconds=30), None)
    delta = parse_rate_headers({"x-ratelimit-remaining": "4", "x-ratelimit-reset": "12"}, NOW)
    assert delta.remaining == 4 and delta.reset_at == NOW + timedelta(seconds=12)


def test_ietf_ratelimit_header() -> None:
    info = parse_rate_headers(
        {"RateLimit": "limit=10, remaining=3, reset=4", "RateLimit-Policy": "10;w=1"}, NOW
    )
    assert (info.limit, info.remaining, info.reset_at) == (10, 3, NOW + timedelta(seconds=4))


async def scope_row(aengine, config_id):  # type: ignore[no-untyped-def]
    async with aengine.connect() as conn:
        return (
            (
                await conn.execute(
                    text(
                        "SELECT * FROM cc_rate_limit_state WHERE config_id = :c AND scope = 'global'"
                    ),
                    {"c": config_id},
                )
            )
            .mappings()
            .one()
        )


async def test_a_429_makes_every_engine_wait(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    first = RateLimitCoordinator(aengine, config_id)
    other = RateLimitCoordinator(aengine, config_id)  # another engine on the same config
    assert (await first.acquire("/studies/odata")).waited_s == 0
    await first.record("/studies/odata", 429, RateInfo(retry_after_s=1.0))
    row = await scope_row(aengine, config_id)
    assert row["last_429_at"] is not None and row["remaining"] == 0
    waited = (await other.acquire("/sites/odata")).waited_s
    assert 0 < waited <= 1.0  # until the shared Retry-After window closes


async def test_exhausted_scope_waits_for_reset(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    coordinator = RateLimitCoordinator(aengine, config_id)
    await coordinator.acquire("/x")
    reset = datetime.now(UTC) + timedelta(seconds=1.0)
    await coordinator.record("/x", 200, RateInfo(limit=5, remaining=0, reset_at=reset))
    assert 0 < (await coordinator.acquire("/x")).waited_s <= 1.0  # until the reset


async def test_pacing_slots_are_shared(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    engines = [
        RateLimitCoordinator(aengine, config_id, max_requests_per_second=50) for _ in range(2)
    ]
    slots = []
    for n in range(6):
        await engines[n % 2].acquire("/x")
        slots.append((await scope_row(aengine, config_id))["next_request_at"])
    # whichever engine asked, each slot is at least 1/50 s after the previous one
    gaps = [
        (later - earlier).total_seconds() for earlier, later in zip(slots, slots[1:], strict=False)
    ]
    assert all(gap >= 0.02 - 1e-6 for gap in gaps), gaps
