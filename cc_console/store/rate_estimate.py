"""The allowed rate of one rate-limit scope, learned from 429s (pure: no I/O, no clock).

The scheme is CUBIC's (RFC 9438), applied to a request rate instead of a congestion window:

- a 429 is one *loss event*. The rate at that moment overshoots the limit (a token bucket's
  burst has to run dry first); the rate let through since the previous loss undershoots it
  (it counts the climb back). The latter, kept within [``BETA``, 1] of the former, becomes
  ``ceiling_rps`` (CUBIC's ``W_max``) and the rate drops to ``BETA`` × ceiling — a gentle
  decrease: plain halving averages only about ¾ of the limit;
- the rate grows back along a cubic, concave up to a plateau just under the last loss
  (``PLATEAU`` × ceiling; ``PLATEAU_UNCONFIRMED`` for a ceiling found only once) in
  ``CUBIC_K_S`` seconds, holds there, then probes beyond it in case the
  limit was raised. Each loss that finds the ceiling where it was doubles the hold (up to ten
  minutes), so a confirmed limit is probed ever more rarely and 429s fall over time;
- before anything is known, the first 429 comes after a burst, too soon for what got through
  to mean anything: the rate starts from it and doubles every ``SLOW_START_DOUBLING_S`` (TCP's
  slow start) until the next loss, whose rate, times ``SLOW_START_EXIT``, is the ceiling;
- the curve's clock is the database's (seconds since the last decrease), so the learned rate
  survives restarts and is shared by every engine of the config, and a long idle period walks
  it through the plateau into probing again.

429s of requests that left before the last decrease belong to the same loss and only count.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BETA",
    "CUBIC_K_S",
    "PLATEAU",
    "PLATEAU_UNCONFIRMED",
    "SLOW_START_DOUBLING_S",
    "RateEstimate",
]

BETA = 0.9  # the rate right after a loss, as a fraction of the ceiling
PLATEAU = 0.98  # where the rate settles, as a fraction of a confirmed ceiling
PLATEAU_UNCONFIRMED = 0.95  # ... of a ceiling found once (it may be the burst's doing)
CUBIC_K_S = 8.0  # seconds from a decrease up to the plateau
_C_PROBE = 1e-5  # beyond the plateau: +1% of the ceiling after 10 s, +8% after 20 s
PROBE_SPAN_S = 120.0  # the probe stops growing after this (about 18 × the ceiling)
PLATEAU_BASE_S = 30.0  # the hold at the plateau; doubles with each confirming loss
PLATEAU_MAX_S = 600.0
CONFIRM_WITHIN = 0.05  # a loss this close to the ceiling confirms it
SLOW_START_DOUBLING_S = 2.0
SLOW_START_EXIT = 0.6  # slow start overshoots by about the burst's worth
MIN_WINDOW_S = 2.0  # a shorter window measures the server's burst, not its rate
FLOOR_RPS = 0.2  # never slower than one request every five seconds


@dataclass(frozen=True)
class RateEstimate:
    """One scope's learned state, as ``cc_rate_limit_state`` keeps it; ``since_s`` arguments
    are seconds since the last decrease, by the database's clock."""

    ceiling_rps: float | None = None  # the rate the last loss found
    slow_start_rps: float | None = None  # set while the ceiling is still unknown
    confirmations: int = 0  # losses in a row that found the ceiling where it was
    sent: int = 0  # attempts since the last decrease
    throttled: int = 0  # of which answered 429

    @property
    def learned(self) -> bool:
        return self.ceiling_rps is not None or self.slow_start_rps is not None

    @property
    def plateau_s(self) -> float:
        """Seconds held at the plateau before probing beyond it."""
        return min(PLATEAU_MAX_S, PLATEAU_BASE_S * 2.0**self.confirmations)

    def rate_at(self, since_s: float) -> float | None:
        """The rate to pace at; None when nothing has been learned yet."""
        since_s = max(0.0, since_s)
        if self.slow_start_rps is not None:
            rate = self.slow_start_rps * 2 ** min(since_s / SLOW_START_DOUBLING_S, 30.0)
        elif self.ceiling_rps is not None:
            plateau = PLATEAU if self.confirmations else PLATEAU_UNCONFIRMED
            t = since_s - CUBIC_K_S
            if t < 0:
                growth = (plateau - BETA) / CUBIC_K_S**3 * t**3
            else:
                t = min(max(0.0, t - self.plateau_s), PROBE_SPAN_S)
                growth = _C_PROBE * t**3
            rate = self.ceiling_rps * (plateau + growth)
        else:
            return None
        return max(FLOOR_RPS, rate)

    def after_429(self, since_s: float, *, same_event: bool) -> RateEstimate:
        """The state after a 429; ``same_event``: its request left before the last decrease.
        A new state (other than for ``same_event``) starts its curve now."""
        if same_event:
            return RateEstimate(
                self.ceiling_rps,
                self.slow_start_rps,
                self.confirmations,
                self.sent,
                self.throttled + 1,
            )
        accepted = max(self.sent - self.throttled - 1, 0)
        current = self.rate_at(since_s)
        if self.slow_start_rps is not None and current is not None:
            return RateEstimate(ceiling_rps=max(FLOOR_RPS, current * SLOW_START_EXIT))
        if self.ceiling_rps is not None and current is not None:
            ceiling = current
            if since_s >= MIN_WINDOW_S:
                ceiling = min(current, max(accepted / since_s, BETA * current))
            ceiling = max(FLOOR_RPS, ceiling)
            confirmed = abs(ceiling - self.ceiling_rps) <= CONFIRM_WITHIN * self.ceiling_rps
            return RateEstimate(
                ceiling_rps=ceiling,
                confirmations=min(self.confirmations + 1, 10) if confirmed else 0,
            )
        # nothing known yet: the burst got through; start slowly from what did
        return RateEstimate(slow_start_rps=max(FLOOR_RPS, accepted / max(since_s, 1.0)))
