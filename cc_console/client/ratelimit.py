"""The coordinator that shares their state through the database.

Every engine — task, process or host — reads and updates ``cc_rate_limit_state`` (its SQL:
``store/rate_limits.py``) under row locks before and after each attempt: it waits while a
scope is exhausted or inside a Retry-After window, and it takes a pacing slot
(``next_request_at``) so that together the engines of one config stay under its
``max_requests_per_second``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.rate_limits import ensure_scopes, record_response, take_slot
from .rate_headers import RateInfo, parse_rate_headers, parse_retry_after

__all__ = ["RateInfo", "RateLimitCoordinator", "parse_rate_headers", "parse_retry_after"]


class RateLimitCoordinator:
    """Waits and paces through ``cc_rate_limit_state`` so several engines share one budget."""

    def __init__(
        self,
        engine: AsyncEngine,
        config_id: uuid.UUID,
        *,
        max_requests_per_second: float | None = None,
        retry_after_cap_s: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.engine = engine
        self.retry_after_cap_s = retry_after_cap_s
        self._ensured: set[str] = set()
        self.config_id = config_id
        self.interval = 1 / max_requests_per_second if max_requests_per_second else 0.0
        self.sleep = sleep

    @staticmethod
    def scopes(endpoint_path: str) -> list[str]:
        """The scopes an attempt on ``endpoint_path`` counts against."""
        return ["global", f"endpoint:{endpoint_path}"]

    async def acquire(self, endpoint_path: str) -> float:
        """Wait until the shared state lets one request go; return the seconds waited."""
        waited = 0.0
        scopes = self.scopes(endpoint_path)
        missing = [scope for scope in scopes if scope not in self._ensured]
        if missing:
            await ensure_scopes(self.engine, self.config_id, missing)
            self._ensured.update(missing)
        while True:
            verdict = await take_slot(self.engine, self.config_id, scopes, self.interval)
            if verdict.blocked_until is not None:  # a Retry-After window or an exhausted scope
                delay = (verdict.blocked_until - verdict.now).total_seconds()
                await self.sleep(delay)
                waited += delay
                continue
            delay = (verdict.slot - verdict.now).total_seconds()
            if delay > 0:  # our pacing slot is reserved: go at its time
                await self.sleep(delay)
                waited += delay
            return waited

    async def record(self, endpoint_path: str, status: int, info: RateInfo) -> None:
        """Store what a response said; a 429 opens a Retry-After window for every engine."""
        if status != 429 and not info.says_anything:
            return
        retry_seconds = None
        if status == 429:  # other statuses' Retry-After only pace their own retry
            retry_seconds = min(
                self.retry_after_cap_s,
                info.retry_after_s if info.retry_after_s is not None else 1.0,
            )
        await record_response(
            self.engine,
            self.config_id,
            "global",
            status=status,
            limit=info.limit,
            remaining=info.remaining,
            reset_at=info.reset_at,
            retry_after_s=retry_seconds,
            window_s=info.window_s,
            burst=info.burst,
        )
