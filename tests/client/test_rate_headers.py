"""Every form of rate-limit header servers send, read the same way; anything else ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import text

from cc_console.client.rate_headers import RateInfo, parse_limit, parse_rate_headers
from cc_console.client.ratelimit import RateLimitCoordinator
from cc_console.tui.components.gauges import learned_text, policy_text

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("100", (100, None, None)),
        ("20r/s; burst=10", (20, 1.0, 10)),  # nginx limit_req's wording
        ("20 r/s, burst=10", (20, 1.0, 10)),
        ("100/60s", (100, 60.0, None)),
        ("100/min", (100, 60.0, None)),
        ("5000/hour", (5000, 3600.0, None)),
        ("100;w=60", (100, 60.0, None)),
        ("10/2 minutes", (10, 120.0, None)),
        ("100/5ms", (100, None, None)),  # a unit this side does not know: the limit only
        ("lots", (None, None, None)),
        ("", (None, None, None)),
    ],
)
def test_limit_values(value: str, parsed: tuple[object, ...]) -> None:
    assert parse_limit(value) == parsed


def test_x_ratelimit_limit_alone_still_states_the_policy() -> None:
    info = parse_rate_headers({"X-RateLimit-Limit": "20r/s; burst=10"}, NOW)
    assert info == RateInfo(limit=20, window_s=1.0, burst=10)
    assert info.rate_per_s == 20.0 and info.says_anything


def test_the_ietf_drafts_old_and_new() -> None:
    structured = parse_rate_headers(
        {"RateLimit-Policy": '"default";q=100;w=60', "RateLimit": '"default";r=50;t=30'}, NOW
    )
    assert (structured.limit, structured.window_s, structured.remaining) == (100, 60.0, 50)
    assert structured.reset_at == NOW + timedelta(seconds=30)
    older = parse_rate_headers(
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "7", "RateLimit-Reset": "12"}, NOW
    )
    assert (older.limit, older.remaining, older.reset_at) == (100, 7, NOW + timedelta(seconds=12))
    combined = parse_rate_headers(
        {"RateLimit": "limit=10, remaining=3, reset=4", "RateLimit-Policy": "10;w=1"}, NOW
    )
    assert (combined.limit, combined.remaining, combined.window_s) == (10, 3, 1.0)


def test_retry_after_only_says_when_and_nothing_else() -> None:
    info = parse_rate_headers({"Retry-After": "1"}, NOW)
    assert info.retry_after_s == 1.0 and not info.says_anything and info.rate_per_s is None


header_names = st.sampled_from(
    ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
     "RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"]
)  # fmt: skip


@given(st.dictionaries(header_names, st.text(max_size=40), max_size=6))
@example({"X-RateLimit-Remaining": "0\x1f"})  # \s matched it, float() refused it (found once)
def test_no_header_value_makes_it_crash(headers: dict[str, str]) -> None:
    info = parse_rate_headers(headers, NOW)
    assert info.limit is None or info.limit >= 0
    assert info.window_s is None or info.window_s > 0


async def test_the_stated_policy_is_kept_and_shown(aengine, config_id) -> None:  # type: ignore[no-untyped-def]
    coordinator = RateLimitCoordinator(aengine, config_id)
    await coordinator.acquire("/studies/odata")
    said = parse_rate_headers({"X-RateLimit-Limit": "20r/s; burst=10"}, NOW)
    await coordinator.record("/studies/odata", 200, said)
    async with aengine.connect() as conn:
        row = (
            (
                await conn.execute(
                    text(
                        'SELECT "limit", window_s, burst, remaining FROM cc_rate_limit_state'
                        " WHERE config_id = :c AND scope = 'global'"
                    ),
                    {"c": config_id},
                )
            )
            .mappings()
            .one()
        )
    assert dict(row) == {"limit": 20, "window_s": 1.0, "burst": 10, "remaining": None}
    assert policy_text(dict(row)) == "20/s burst 10"
    assert policy_text({"limit": 100, "window_s": 60.0, "burst": None}) == "100/60s"


@pytest.mark.parametrize(
    ("headers", "scoped"),
    [
        ({"Retry-After": "1", "X-RateLimit-Scope": "endpoint"}, True),
        ({"X-RateLimit-Scope": "Route"}, True),
        ({"RateLimit-Policy": '"per-endpoint";q=5;w=1'}, True),
        ({"RateLimit": '"endpoint";r=0;t=1'}, True),
        ({"RateLimit-Policy": '"default";q=100;w=60'}, False),
        ({"X-RateLimit-Resource": "core", "X-RateLimit-Limit": "5000"}, False),  # GitHub's
        ({"Retry-After": "1"}, False),
    ],
)
def test_the_server_says_when_a_limit_is_the_endpoints_own(headers, scoped) -> None:  # type: ignore[no-untyped-def]
    assert parse_rate_headers(headers, NOW).endpoint_scoped is scoped


def test_the_pane_shows_the_learned_and_observed_rate() -> None:
    shown = learned_text({"learned_rps": 19.6, "confirmations": 2, "observed_rps": 19.41})
    assert shown.plain == "learned 19.6/s (confirmed ×2)  observed 19.4/s"
    probing = learned_text({"learned_rps": 11.0, "slow_start_rps": 11.0, "observed_rps": 0})
    assert probing.plain == "learned 11/s (probing)"
    assert learned_text({"learned_rps": None, "observed_rps": 0.0}).plain == ""


@pytest.mark.parametrize("reset", ["9223372036854775296", "100000000000000000", "300000000000"])
def test_a_reset_no_calendar_holds_is_no_reset(reset: str) -> None:
    # found by the property test above: each of these crashed the parser
    info = parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Reset": reset}, NOW)
    assert info.reset_at is None and info.limit == 10
