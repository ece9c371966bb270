"""The learned rate on scripted 429 sequences: the clock is the argument, nothing sleeps."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from cc_console.store.rate_estimate import (
    BETA,
    CUBIC_K_S,
    PLATEAU,
    PLATEAU_UNCONFIRMED,
    SLOW_START_DOUBLING_S,
    RateEstimate,
)


def sent(estimate: RateEstimate, n: int) -> RateEstimate:
    return RateEstimate(
        estimate.ceiling_rps,
        estimate.slow_start_rps,
        estimate.confirmations,
        estimate.sent + n,
        estimate.throttled,
    )


def test_nothing_is_paced_until_a_429() -> None:
    assert RateEstimate().rate_at(100.0) is None
    assert not RateEstimate(sent=500).learned


def test_the_first_429_starts_slowly_from_what_got_through_and_doubles() -> None:
    # 11 requests went in 0.05 s (the burst), the 12th got 429: about 11/s got through
    first = sent(RateEstimate(), 12).after_429(0.05, same_event=False)
    assert first.slow_start_rps == 11.0 and first.sent == 0
    assert first.rate_at(0.0) == 11.0
    assert first.rate_at(SLOW_START_DOUBLING_S) == 22.0
    assert first.rate_at(2 * SLOW_START_DOUBLING_S) == 44.0


def test_a_429_in_slow_start_sets_a_ceiling_below_the_overshoot() -> None:
    slow = RateEstimate(slow_start_rps=10.0, sent=60)
    ceiling = slow.after_429(2 * SLOW_START_DOUBLING_S, same_event=False)  # at 40/s
    assert ceiling.slow_start_rps is None and ceiling.ceiling_rps == 24.0
    assert ceiling.confirmations == 0


def test_the_curve_drops_gently_climbs_to_a_plateau_holds_then_probes() -> None:
    found = RateEstimate(ceiling_rps=20.0)
    assert math.isclose(found.rate_at(0.0) or 0, BETA * 20.0)
    assert math.isclose(found.rate_at(CUBIC_K_S) or 0, PLATEAU_UNCONFIRMED * 20.0)
    climb = [found.rate_at(t / 2) or 0 for t in range(int(2 * CUBIC_K_S) + 1)]
    assert climb == sorted(climb)  # concave and rising, never above the plateau
    hold_end = CUBIC_K_S + found.plateau_s
    assert found.rate_at(hold_end) == found.rate_at(CUBIC_K_S + 1)  # the plateau holds
    assert (found.rate_at(hold_end + 20) or 0) > 1.05 * PLATEAU_UNCONFIRMED * 20.0  # probing


def test_the_ceiling_comes_from_what_got_through_within_beta_of_the_rate() -> None:
    # probing past the plateau, 60 s after the last decrease: 1200 of 1201 got through, and
    # the ceiling is that rate (20/s), not the overshooting one the 429 came at
    found = RateEstimate(ceiling_rps=20.0, sent=1201)
    now = found.rate_at(60.0) or 0
    after = found.after_429(60.0, same_event=False)
    assert now > 1200 / 60.0 > BETA * now
    assert after.ceiling_rps is not None and math.isclose(after.ceiling_rps, 1200 / 60.0)
    # too little got through (a long climb): never below BETA of the rate
    slow = RateEstimate(ceiling_rps=20.0, sent=300).after_429(60.0, same_event=False)
    assert slow.ceiling_rps is not None and math.isclose(slow.ceiling_rps, BETA * now)


def test_a_loss_where_the_ceiling_was_confirms_it_and_doubles_the_hold() -> None:
    found = RateEstimate(ceiling_rps=20.0, sent=400)
    again = found.after_429(20.0, same_event=False)
    assert again.confirmations == 1 and again.plateau_s == 2 * found.plateau_s
    assert math.isclose(again.rate_at(CUBIC_K_S) or 0, PLATEAU * (again.ceiling_rps or 0))
    moved = RateEstimate(ceiling_rps=40.0, confirmations=3, sent=400)
    assert moved.after_429(20.0, same_event=False).confirmations == 0  # the limit moved


def test_429s_of_requests_sent_before_the_decrease_only_count() -> None:
    found = RateEstimate(ceiling_rps=20.0, confirmations=2, sent=5)
    same = found.after_429(0.1, same_event=True).after_429(0.2, same_event=True)
    assert (same.ceiling_rps, same.confirmations, same.throttled) == (20.0, 2, 2)


def test_a_quick_second_loss_decreases_again_from_where_it_was() -> None:
    found = RateEstimate(ceiling_rps=30.0, sent=10)
    quick = found.after_429(0.5, same_event=False)
    assert quick.ceiling_rps == found.rate_at(0.5)


@given(
    st.floats(0.2, 10_000),
    st.integers(0, 10),
    st.lists(st.floats(0, 3600), min_size=2, max_size=20),
)
def test_the_rate_never_falls_as_time_passes(ceiling: float, sure: int, times: list[float]) -> None:
    estimate = RateEstimate(ceiling_rps=ceiling, confirmations=sure)
    rates = [estimate.rate_at(t) or 0 for t in sorted(times)]
    assert all(later >= earlier - 1e-9 for earlier, later in zip(rates, rates[1:], strict=False))
    assert all(rate > 0 for rate in rates)


def bucket_run(
    estimate: RateEstimate, origin: float, start: float, total: int, rate: float, burst: int
) -> tuple[RateEstimate, float, list[tuple[float, int]]]:
    """One engine pacing to ``estimate`` against a token bucket (``rate``/s, ``burst``) that
    answers 429 with Retry-After 1; the clock is simulated: every request takes 5 ms."""
    tokens, stamp, now, log = float(burst), start, start, []
    accepted = 0
    while accepted < total:
        paced = estimate.rate_at(now - origin)
        tokens = min(burst, tokens + (now - stamp) * rate)
        stamp = now
        estimate = sent(estimate, 1)
        if tokens >= 1:
            tokens -= 1
            accepted += 1
            log.append((now, 200))
            now += max(0.005, 1 / paced if paced else 0.0)
        else:
            log.append((now, 429))
            estimate = estimate.after_429(now - origin, same_event=False)
            origin = now
            now += 1.0 + 0.005  # Retry-After: 1
    return estimate, origin, log


def test_against_a_token_bucket_it_learns_the_rate_and_429s_fall() -> None:
    rate, burst = 20.0, 10
    estimate, origin = RateEstimate(), 0.0
    first = bucket_run(estimate, origin, 0.0, 400, rate, burst)
    estimate, origin, log = first
    end = log[-1][0]
    late = [t for t, status in log if status == 200 and t >= 10.0]
    assert len(late) / (end - 10.0) >= 0.9 * rate
    half = [status for t, status in log if t >= end / 2]
    assert half.count(429) <= 0.01 * len(half)
    _, _, second = bucket_run(estimate, origin, end + 1.0, 400, rate, burst)
    first_429s = sum(1 for _, status in log if status == 429)
    assert sum(1 for _, status in second if status == 429) <= first_429s / 4
