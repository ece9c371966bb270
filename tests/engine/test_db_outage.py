"""Database outages end cleanly: ridden out within the budget, one clear line past it, and
then resumable — Silver exact, every request the simulator saw in the request log.

The outage is real but confined to this test's database on the shared server: its sessions
are terminated and new ones refused (``ALLOW_CONNECTIONS false``), as a restarting server
would; then connections are allowed again.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import text

from cc_console.engine import run_template
from tests.conftest import _admin

PATIENTS = 300  # the small simulator's patients


def away(pg_server, name: str, seconds: float) -> threading.Thread:  # type: ignore[no-untyped-def]
    """Take the database away now (sessions ended, new ones refused) for ``seconds``."""
    admin = _admin(pg_server)
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )

    def back() -> None:
        time.sleep(seconds)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()

    thread = threading.Thread(target=back, daemon=True)
    thread.start()
    return thread


async def pages_landed(t, pages: int) -> None:  # type: ignore[no-untyped-def]
    """Until the run landed ``pages`` of its 12 (~200 ms each): it is mid-run after this."""
    deadline = time.monotonic() + 30
    while (t.scalar("SELECT max(pages) FROM cc_sync_run") or 0) < pages:
        assert time.monotonic() < deadline, "the run landed no pages"
        await asyncio.sleep(0.02)
    assert t.scalar("SELECT status FROM cc_sync_run") == "running", "it ended before the outage"


def every_request_logged_and_silver_exact(t) -> None:  # type: ignore[no-untyped-def]
    assert t.sim.stats()["api_requests"] == t.scalar("SELECT count(*) FROM cc_api_request_log")
    assert t.scalar("SELECT count(*) FROM cc_silver_record WHERE resource_path = '/patients'") == (
        PATIENTS
    )
    assert t.scalar("SELECT count(*) FROM cc_sync_run WHERE status = 'running'") == 0
    t.assert_audit_trail_proved()  # landings rolled back by the outage and retried included


@pytest.mark.parametrize("seconds", [0.0, 2.0], ids=["connections-killed", "away-2s"])
async def test_an_outage_within_the_budget_is_ridden_out(
    tenant, aengine, database, pg_server, seconds
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "latency_ms": 200}, default_page_size=25)
    template = t.template("/patients/odata")
    run = asyncio.create_task(run_template(aengine, template, outage_budget_s=20))
    await pages_landed(t, 2)
    started = time.monotonic()
    back = away(pg_server, database.engine.url.database, seconds)
    summary = await run
    back.join()
    assert summary.status == "succeeded", summary.message
    assert summary.landed == PATIENTS and summary.reconciled
    every_request_logged_and_silver_exact(t)
    print(f"outage of {seconds:g} s ridden out; run ended {time.monotonic() - started:.1f} s later")


async def test_past_the_budget_one_line_exit_2_then_resume(
    tenant, database, pg_server, cli, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "latency_ms": 200}, default_page_size=25)
    template = t.template("/patients/odata")
    monkeypatch.setenv("CC_DB_OUTAGE_BUDGET_S", "1")
    monkeypatch.setenv("CC_CURSOR_LEASE_S", "2")  # so the run is swept soon after
    sync = asyncio.create_task(asyncio.to_thread(cli, "sync", "-t", str(template)))
    await pages_landed(t, 2)
    started = time.monotonic()
    back = away(pg_server, database.engine.url.database, 4)
    result = await sync
    gave_up_s = time.monotonic() - started
    back.join()
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unreachable for more than 1 s" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert 1 <= gave_up_s < 4  # gave up at the budget, before the database came back
    first = t.scalar("SELECT id FROM cc_sync_run")
    assert t.scalar("SELECT status FROM cc_sync_run WHERE id = :r", r=first) == "running"

    # the sweep ends the first run (its lease ran out), then it resumes
    resumed = await asyncio.to_thread(cli, "resume", str(first), "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert t.scalar("SELECT status FROM cc_sync_run WHERE id = :r", r=first) == "partial"
    kinds = t.rows("SELECT kind FROM cc_error_event WHERE run_id = :r", r=first)
    assert [k for (k,) in kinds] == ["interrupted"]
    every_request_logged_and_silver_exact(t)
    print(f"gave up {gave_up_s:.1f} s into a 4 s outage (budget 1 s); resumed to {PATIENTS} rows")
