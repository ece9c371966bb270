"""Waits a run can be stopped out of: a retry's backoff, a Retry-After window, a pacing slot.

A run stops between attempts — but a 429's Retry-After can be two minutes, and a worker
given SIGTERM (systemd kills it 90 s later) or an operator's cancel should not sit it out
first. :class:`Interruptible` sleeps until its time or until one of the events it watches is
set, then raises the error it was given (the run's stop: ``interrupted`` or ``cancelled``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

__all__ = ["Interruptible"]


class Interruptible:
    """``await pause(delay)``: ``sleep(delay)``, cut short by a watched event (raising)."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.sleep = sleep
        self._events: tuple[asyncio.Event, ...] = ()
        self._error: Callable[[], Exception] | None = None

    def watch(self, events: Iterable[asyncio.Event | None], error: Callable[[], Exception]) -> None:
        """From now on a set event ends a wait with ``error()``."""
        self._events = tuple(e for e in events if e is not None)
        self._error = error

    def _stopped(self) -> Exception | None:
        if self._error is not None and any(e.is_set() for e in self._events):
            return self._error()
        return None

    async def __call__(self, delay: float) -> None:
        if (stop := self._stopped()) is not None:
            raise stop
        if not self._events or delay <= 0:
            await self.sleep(delay)
            return
        sleeping = asyncio.ensure_future(self.sleep(delay))
        waiting = [asyncio.ensure_future(e.wait()) for e in self._events]
        try:
            await asyncio.wait([sleeping, *waiting], return_when=asyncio.FIRST_COMPLETED)
        finally:  # the losers (or all, when this wait itself is cancelled)
            for task in (sleeping, *waiting):
                task.cancel()
        if (stop := self._stopped()) is not None:
            raise stop
