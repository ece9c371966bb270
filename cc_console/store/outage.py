"""Riding out a database outage: transient errors are retried within a budget, then one clear
``DatabaseOutage`` (exit 2).

Transient means the connection or the server went away — a terminated backend, an admin
shutdown, a server restarting or refusing connections — not a statement the database refused.
A write retried after a connection died mid-COMMIT may find its first try committed; the
callers that care (the page landing) check for that before writing again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError

from ..errors import DatabaseError

__all__ = ["DB_OUTAGE_BUDGET_S", "DatabaseOutage", "OutageGuard", "cause_of", "is_transient"]

T = TypeVar("T")
logger = logging.getLogger(__name__)

DB_OUTAGE_BUDGET_S = 30.0
_FIRST_DELAY_S = 0.1
_MAX_DELAY_S = 2.0


class DatabaseOutage(DatabaseError):
    """The database stayed away longer than the budget."""


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` says the database connection or server is gone (for now)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError)


def cause_of(exc: BaseException) -> str:
    """One line naming what the database said."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first}" if first else type(orig).__name__


class OutageGuard:
    """Runs database work again while the database is away, for at most ``budget_s`` per
    outage; ``outages`` and ``waited_s`` say what it rode out."""

    def __init__(
        self,
        budget_s: float = DB_OUTAGE_BUDGET_S,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.budget_s = budget_s
        self.sleep = sleep
        self.outages = 0
        self.waited_s = 0.0

    async def run(self, work: Callable[[], Awaitable[T]], what: str) -> T:
        """``work()``, tried again on transient errors until it succeeds or the budget ends."""
        deadline: float | None = None
        delay = _FIRST_DELAY_S
        while True:
            try:
                return await work()
            except (DBAPIError, OSError) as exc:
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.budget_s
                    self.outages += 1
                    logger.info("database away while %s (%s); retrying", what, cause_of(exc))
                if now >= deadline:
                    raise DatabaseOutage(
                        f"the database was unreachable for more than {self.budget_s:g} s while"
                        f" {what} ({cause_of(exc)}); the run is ended as interrupted by the next"
                        " command or engine once the database is back — resume it then"
                    ) from None
                pause = min(delay, deadline - now)
                await self.sleep(pause)
                self.waited_s += pause
                delay = min(delay * 2, _MAX_DELAY_S)
