"""A run asked to stop while it waits out a 429's Retry-After (or a backoff) stops at once —
a worker's SIGTERM (interrupted, resumable) or an operator's cancel in the database — instead
of sitting out the wait; a resume then lands everything once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from cc_console.engine import run_template
from cc_console.engine.control import StopRequest
from cc_console.errors import ErrorKind
from cc_console.store.runs import request_cancel
from tests.simulator_fixture import SMALL

RETRY_AFTER_S = 600  # the config lets it wait that long
BOUND_S = 30  # a stop ends the run well within this; sitting the wait out would not


async def _bounded(run: Any) -> Any:
    """The run's summary, and that it ended within BOUND_S (a run cancelled by the guard
    ends "interrupted" too, so the time is what tells a cut wait from one sat out)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    summary = await asyncio.wait_for(run, 2 * BOUND_S)
    assert loop.time() - started < BOUND_S, "the run sat out its wait"
    return summary


def _slow_down() -> httpx.Response:
    return httpx.Response(
        429, headers={"Retry-After": str(RETRY_AFTER_S)}, json={"message": "slow down"}
    )


async def test_a_workers_stop_cuts_a_retry_after_wait_short(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}}, retry_after_cap_s=RETRY_AFTER_S)
    template = t.template("/sites/odata")
    stop = StopRequest(ErrorKind.INTERRUPTED, "worker w1 stopped (SIGTERM) between attempts")
    served = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal served
        served += 1
        asyncio.get_running_loop().call_later(0.05, stop.set)  # while the run waits
        return _slow_down()

    summary = await _bounded(
        run_template(aengine, template, cancel=stop, transport=httpx.MockTransport(handler))
    )
    assert served == 1  # stopped in the wait: no second attempt
    assert summary.status in ("failed", "partial"), summary.message
    kinds = [
        r.kind
        for r in t.rows("SELECT kind FROM cc_error_event WHERE run_id = :r", r=summary.run_id)
    ]
    assert kinds[-1] == "interrupted", kinds
    assert t.scalar("SELECT max(retry_after_until) > now() FROM cc_rate_limit_state")
    with t.database.engine.begin() as conn:  # the server's window has passed
        conn.exec_driver_sql("UPDATE cc_rate_limit_state SET retry_after_until = NULL")
    resumed = await run_template(aengine, template, trigger="resume", parent_run_id=summary.run_id)
    assert resumed.status == "succeeded", resumed.message
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == SMALL["sites"]
    t.assert_audit_trail_proved()


async def test_an_operators_cancel_cuts_a_retry_after_wait_short(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    """The cancel flag is set from elsewhere (`cc-console cancel`): the run's heartbeat sees it."""
    t = tenant(sim={"rate_limit": {"enabled": False}}, retry_after_cap_s=RETRY_AFTER_S)
    template = t.template("/sites/odata")
    asked: list[bool] = []

    async def cancel_the_run() -> None:
        async with aengine.connect() as conn:
            run_id = (
                await conn.exec_driver_sql("SELECT id FROM cc_sync_run WHERE status = 'running'")
            ).scalar_one()
        asked.append(await request_cancel(aengine, run_id))

    tasks: list[asyncio.Task[None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tasks.append(asyncio.get_running_loop().create_task(cancel_the_run()))
        return _slow_down()

    summary = await _bounded(
        run_template(aengine, template, transport=httpx.MockTransport(handler), lease_s=2)
    )
    assert asked == [True] and len(tasks) == 1
    assert summary.status == "failed" and summary.message.startswith("cancelled"), summary.message
    assert (
        t.scalar(
            "SELECT kind FROM cc_error_event WHERE run_id = :r ORDER BY occurred_at DESC LIMIT 1",
            r=summary.run_id,
        )
        == "cancelled"
    )
