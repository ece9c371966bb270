"""Dual-write by following the committed audit log, not the engine's hot path.

For a config with ``dual_write_legacy``, a :class:`LegacyFollower` reads each followed run's
request and response rows, in the order they were sent, and appends them to the legacy
``api_call_log`` (``mirror.LegacyWriter``). An attempt is copied once nothing more will be
written about it (a response, or an error event saying why there is none); when the run has
ended, whatever is left is copied as a call without an answer. So the legacy table gets
every attempt, answered or not, and the engine never waits for it.

Whoever starts runs — ``sync``, the console, later each worker — starts the follower and,
once a run ended, waits for it to catch up (``finish``) before reporting: the run then holds
``legacy_writes`` / ``legacy_write_failures``, and one ``legacy_write`` error event says why
anything was not written. A write that fails is counted as lost, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.secrets import SecretUnavailable
from ..errors import ErrorKind
from ..store.audit_log import LoggedAttempt, attempts_of_run
from ..store.configs import ConfigRow, load_config
from ..store.error_events import record_error_event
from ..store.runs import load_run, set_legacy_counts
from .mirror import LegacyWriter, mirror_client_name, resolve_legacy_url

__all__ = ["DualWrite", "LegacyFollower"]

POLL_S = 0.2
BATCH = 500
CATCH_UP_TIMEOUT_S = 10.0


@dataclass
class _Followed:
    """One run's place in its log and what became of its attempts."""

    run_id: uuid.UUID
    since: datetime
    after: tuple[datetime, uuid.UUID] | None = None
    written: int = 0
    failed: int = 0
    problem: str | None = None
    ended: bool = False  # the run is over: copy everything, answered or not
    settled: bool = False  # the counts are final: nothing more is counted for this run
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)

    def lost(self, count: int, reason: str | None) -> None:
        if count:
            self.failed += count
            self.problem = self.problem or reason


class LegacyFollower:
    """Follows the runs of one dual-writing config and copies their attempts.

    One loop does all the copying (the writer has one connection); ``finish`` only waits for
    it to catch up, at most ``timeout_s``, and counts what it did not get to as lost.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        config: ConfigRow,
        *,
        writer: LegacyWriter | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self.engine = engine
        self.config = config
        self.writer = writer or _writer_for(config)
        self.poll_s = poll_s
        self._runs: dict[uuid.UUID, _Followed] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._writing = False  # a write's thread holds the writer's connection
        self.rounds = 0  # rounds of the copy loop so far (tests wait for them, not for time)

    async def watch(self, run_id: uuid.UUID) -> None:
        """Start following a run that was just created (it counts as mirrored from now)."""
        async with self.engine.begin() as conn:
            run = await load_run(conn, run_id)
            if run is None:
                return
            await set_legacy_counts(conn, run_id, 0, 0)
        self._runs[run_id] = _Followed(run_id, run.started_at)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        while self._runs:
            self._wake.clear()  # a wake-up during the round brings the next one at once
            for followed in list(self._runs.values()):
                try:
                    await self._copy(followed)
                except SQLAlchemyError:
                    continue  # the next round tries again
            self.rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)

    async def _copy(self, followed: _Followed) -> None:
        """Copy what is final of ``followed`` (everything once its run ended)."""
        while not followed.settled:
            ended = followed.ended  # as of this read: a later end gets a round of its own
            async with self.engine.connect() as conn:
                batch = await attempts_of_run(
                    conn, followed.run_id, since=followed.since, after=followed.after, limit=BATCH
                )
            ready = batch if ended else _final_prefix(batch)
            if ready:
                self._writing = True
                try:
                    written, reason = await asyncio.to_thread(self.writer.write, ready)
                finally:
                    self._writing = False
                if followed.settled:  # finish gave up waiting: this batch was counted lost
                    return
                followed.written += written
                followed.lost(len(ready) - written, reason)
                followed.after = (ready[-1].sent_at, ready[-1].id)
            if len(ready) < BATCH:
                if ended:
                    followed.caught_up.set()
                return

    async def finish(
        self, run_id: uuid.UUID, timeout_s: float = CATCH_UP_TIMEOUT_S
    ) -> tuple[int, int] | None:
        """The run has ended: wait (at most ``timeout_s``) until the rest is copied, then
        store the counts on the run and explain any loss in one event. Returns
        (written, failed)."""
        followed = self._runs.get(run_id)
        if followed is None:
            return None
        followed.ended = True
        self._wake.set()
        try:
            await asyncio.wait_for(followed.caught_up.wait(), timeout_s)
        except TimeoutError:
            followed.settled = True  # before any await: the loop's late result is not counted
            await self._count_the_rest(followed)
        followed.settled = True
        del self._runs[run_id]
        await self._settle(followed)
        return followed.written, followed.failed

    async def _count_the_rest(self, followed: _Followed) -> None:
        after = followed.after
        while True:
            async with self.engine.connect() as conn:
                rest = await attempts_of_run(
                    conn, followed.run_id, since=followed.since, after=after, limit=BATCH
                )
            if not rest:
                return
            followed.lost(len(rest), "the legacy database did not answer in time")
            after = (rest[-1].sent_at, rest[-1].id)

    async def _settle(self, followed: _Followed) -> None:
        with contextlib.suppress(SQLAlchemyError):
            async with self.engine.begin() as conn:
                await set_legacy_counts(conn, followed.run_id, followed.written, followed.failed)
                if followed.failed:
                    total = followed.written + followed.failed
                    await record_error_event(
                        conn,
                        kind=ErrorKind.LEGACY_WRITE,
                        message=f"{followed.failed} of {total} attempts not written to the"
                        f" legacy store: {followed.problem}",
                        config_id=self.config.id,
                        run_id=followed.run_id,
                    )

    async def aclose(self) -> None:
        """Stop following (runs not finished stay as counted so far) and close the writer."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self._writing:  # else a stuck write's connection goes with the process
            await asyncio.to_thread(self.writer.close)


def _writer_for(config: ConfigRow) -> LegacyWriter:
    name = mirror_client_name(config.name)
    try:
        return LegacyWriter(resolve_legacy_url(config.legacy_url or ""), name)
    except SecretUnavailable as exc:  # every attempt is counted as lost, with why
        return LegacyWriter(None, name, problem=f"legacy_url: {exc}")


def _final_prefix(batch: list[LoggedAttempt]) -> list[LoggedAttempt]:
    """The attempts before the first that may still change (in flight)."""
    for position, attempt in enumerate(batch):
        if not attempt.final:
            return batch[:position]
    return batch


class DualWrite:
    """The followers of one process, one per dual-writing config, made when a run of the
    config starts (a :class:`~cc_console.engine.runner.RunCompanion`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._followers: dict[uuid.UUID, LegacyFollower] = {}
        self._by_run: dict[uuid.UUID, LegacyFollower] = {}

    async def started(self, run_id: uuid.UUID) -> None:
        async with self.engine.connect() as conn:
            run = await load_run(conn, run_id)
            config = None if run is None else await load_config(conn, run.config_id)
        if config is None or not config.dual_write_legacy:
            return
        follower = self._followers.get(config.id)
        if follower is None:
            follower = self._followers[config.id] = LegacyFollower(self.engine, config)
        await follower.watch(run_id)
        self._by_run[run_id] = follower

    async def finished(self, run_id: uuid.UUID) -> tuple[int, int] | None:
        follower = self._by_run.pop(run_id, None)
        return None if follower is None else await follower.finish(run_id)

    async def aclose(self) -> None:
        for follower in self._followers.values():
            await follower.aclose()
        self._followers.clear()
