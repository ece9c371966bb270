"""Token buckets per API key, as a rate-limited API gateway would keep them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import RateLimitPolicy

__all__ = ["Decision", "RateLimiter"]


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.per_second)
        self.stamp = max(self.stamp, now)

    def wait_for_one(self) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.per_second


@dataclass
class Decision:
    """Whether a request may pass, and what the rate-limit headers say."""

    allowed: bool
    retry_after_s: float = 0.0
    limit: int = 0
    remaining: int = 0
    reset_s: float = 0.0
    policy: str = ""
    scope: str = "global"
    extra: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Global per-second and per-minute buckets per key, plus optional per-endpoint ones."""

    def __init__(self, policy: RateLimitPolicy, clock: Callable[[], float] = time.monotonic):
        self.policy = policy
        self.clock = clock
        self.buckets: dict[tuple[str, str], _Bucket] = {}

    def reset(self) -> None:
        """Forget all buckets (full again)."""
        self.buckets.clear()

    def _bucket(
        self, key: str, scope: str, capacity: float, per_second: float, now: float
    ) -> _Bucket:
        bucket = self.buckets.get((key, scope))
        if bucket is None:
            bucket = _Bucket(capacity, per_second, capacity, now)
            self.buckets[(key, scope)] = bucket
        return bucket

    def check(self, key: str, endpoint: str) -> Decision:
        """Take one token from every bucket of ``key``, or say how long to wait."""
        p = self.policy
        now = self.clock()
        scoped = [
            ("global", self._bucket(key, "second", p.burst, p.per_second, now)),
            ("global", self._bucket(key, "minute", p.per_minute, p.per_minute / 60, now)),
        ]
        if p.endpoint_per_second:
            scoped.append(
                (
                    f"endpoint:{endpoint}",
                    self._bucket(
                        key,
                        f"endpoint:{endpoint}",
                        max(1.0, p.endpoint_per_second),
                        p.endpoint_per_second,
                        now,
                    ),
                )
            )
        for _, bucket in scoped:
            bucket.refill(now)
        waits = [(bucket.wait_for_one(), scope) for scope, bucket in scoped]
        longest, scope = max(waits)
        minute = scoped[1][1]
        policy = f"{p.burst};w=1, {p.per_minute};w=60"
        if longest > 0:
            return Decision(
                False,
                retry_after_s=longest,
                limit=p.per_minute,
                remaining=int(minute.tokens),
                reset_s=longest,
                policy=policy,
                scope=scope,
            )
        for _, bucket in scoped:
            bucket.tokens -= 1
        reset = (minute.capacity - minute.tokens) / minute.per_second
        return Decision(
            True,
            limit=p.per_minute,
            remaining=max(0, math.floor(minute.tokens)),
            reset_s=reset,
            policy=policy,
            scope=scope,
        )
