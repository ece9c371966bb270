"""The coordinator that shares their state through the database.

Every engine — task, process or host — reads and updates ``cc_rate_limit_state`` (its SQL:
``store/rate_limits.py``) under row locks before and after each attempt: it waits while a
scope is exhausted or inside a Retry-After window, and it takes a pacing slot
(``next_request_at``) so that together the engines of one config stay under the rate each
scope has learned from its 429s, the rate the server states and the config's
``max_requests_per_second``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from ..store.rate_limits import ScopeState, ensure_scopes, record_response, take_slot
from .rate_headers import RateInfo, parse_rate_headers, parse_retry_after

__all__ = ["Pass", "RateInfo", "RateLimitCoordinator", "parse_rate_headers", "parse_retry_after"]


@dataclass(frozen=True)
class Pass:
    """Leave to send one request: the seconds waited for it and its slot (database clock)."""

    waited_s: float
    sent_at: datetime


class RateLimitCoordinator:
    """Waits and paces through ``cc_rate_limit_state`` so several engines share one budget:
    each scope's pace is the rate it has learned (``store/rate_estimate.py``), under the one
    the server states and the config's ``max_requests_per_second``."""

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
        self.config_id = config_id
        self.max_rps = max_requests_per_second
        self.sleep = sleep
        # each scope's state as the last statement that touched it returned it
        self.states: dict[str, ScopeState] = {}

    @staticmethod
    def scopes(endpoint_path: str) -> list[str]:
        """The scopes an attempt on ``endpoint_path`` counts against."""
        return ["global", f"endpoint:{endpoint_path}"]

    def rate(self, scope: str) -> float | None:
        """The rate ``scope`` is paced at now (None: unpaced)."""
        state = self.states.get(scope)
        rates = [state.rate_at(state.read_at)] if state else []
        if scope == "global":
            rates.append(self.max_rps)
        known = [r for r in rates if r]
        return min(known) if known else None

    async def acquire(self, endpoint_path: str) -> Pass:
        """Wait until the shared state lets one request go."""
        waited = 0.0
        scopes = self.scopes(endpoint_path)
        if any(scope not in self.states for scope in scopes):
            self.states.update(await ensure_scopes(self.engine, self.config_id, scopes))
        while True:
            rates = [self.rate(scope) for scope in scopes]
            intervals = [1 / r if r else 0.0 for r in rates]
            verdict = await take_slot(self.engine, self.config_id, scopes, intervals)
            self.states.update(verdict.states)
            if verdict.blocked_until is not None:  # a Retry-After window or an exhausted scope
                delay = (verdict.blocked_until - verdict.now).total_seconds()
                await self.sleep(delay)
                waited += delay
                continue
            delay = (verdict.slot - verdict.now).total_seconds()
            if delay > 0:  # our pacing slot is reserved: go at its time
                await self.sleep(delay)
                waited += delay
            return Pass(waited, verdict.slot)

    async def record(
        self, endpoint_path: str, status: int, info: RateInfo, sent_at: datetime | None = None
    ) -> None:
        """Store what a response said against the scope it belongs to (the endpoint's when
        the server says so, else the config's); a 429 opens a Retry-After window for every
        engine and teaches the scope's learned rate."""
        if status != 429 and not info.says_anything:
            return
        scope = f"endpoint:{endpoint_path}" if info.endpoint_scoped else "global"
        retry_seconds = None
        if status == 429:  # other statuses' Retry-After only pace their own retry
            retry_seconds = min(
                self.retry_after_cap_s,
                info.retry_after_s if info.retry_after_s is not None else 1.0,
            )
        state = await record_response(
            self.engine,
            self.config_id,
            scope,
            status=status,
            limit=info.limit,
            remaining=info.remaining,
            reset_at=info.reset_at,
            retry_after_s=retry_seconds,
            window_s=info.window_s,
            burst=info.burst,
            sent_at=sent_at,
        )
        if state is not None:
            self.states[scope] = state
