"""The outage guard: what counts as the database going away, and the budget."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from cc_console.store.outage import DatabaseOutage, OutageGuard, is_transient


def operational(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, psycopg.errors.AdminShutdown(message))


def test_what_is_transient() -> None:
    assert is_transient(operational("terminating connection due to administrator command"))
    assert is_transient(psycopg.OperationalError("connection refused"))
    assert is_transient(ConnectionResetError())
    assert not is_transient(IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("dup")))
    assert not is_transient(ValueError("no"))


class Clock:
    """A fake monotonic clock moved only by the guard's sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_it_rides_out_an_outage_and_counts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr("cc_console.store.outage.time.monotonic", lambda: clock.now)
    guard = OutageGuard(30, sleep=clock.sleep)
    failures = iter([operational("down"), operational("down"), None])

    async def work() -> str:
        failure = next(failures)
        if failure is not None:
            raise failure
        return "landed"

    assert await guard.run(work, "landing a page") == "landed"
    assert clock.sleeps == [0.1, 0.2] and guard.outages == 1
    assert guard.waited_s == pytest.approx(0.3)


async def test_past_the_budget_one_error_names_the_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr("cc_console.store.outage.time.monotonic", lambda: clock.now)
    guard = OutageGuard(5, sleep=clock.sleep)

    async def work() -> None:
        raise operational("the database system is shutting down")

    with pytest.raises(DatabaseOutage, match="more than 5 s while landing a page") as caught:
        await guard.run(work, "landing a page")
    assert "AdminShutdown: the database system is shutting down" in str(caught.value)
    assert sum(clock.sleeps) == pytest.approx(5)  # it waited the whole budget, no more
    assert max(clock.sleeps) <= 2  # backoff capped


async def test_a_refused_statement_is_not_retried() -> None:
    guard = OutageGuard(30)
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        raise IntegrityError("INSERT", {}, psycopg.errors.UniqueViolation("dup"))

    with pytest.raises(IntegrityError):
        await guard.run(work, "landing a page")
    assert calls == 1
