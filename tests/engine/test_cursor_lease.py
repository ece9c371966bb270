"""One owner per cursor, enforced in the data: the lease, its fencing token, and what a run
does when it finds the cursor is no longer its own.

The advisory lock is only the fast path: these tests take it away (terminate its backend, an
idle_session_timeout) or go around it (claims straight at the table) and check that never two
runs land pages of one cursor, and that the cursor's ``records_landed`` is what Silver holds.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest
from sqlalchemy import text

from cc_console.engine import CursorBusy, mark_stale_runs, run_template
from cc_console.store.cursors import lock_key, open_cursor, wait_for_lease

LEASE_S = 2.0
SUBJECTS = 250  # the small simulator's subjects


def slow_tenant(tenant, latency_ms: int = 300):  # type: ignore[no-untyped-def]
    """10 pages of ~latency each: the first run is still paging (≥ 3 s) while a test takes
    its lock away (≤ 1.5 s) and tries a second engine."""
    return tenant(
        sim={"rate_limit": {"enabled": False}, "latency_ms": latency_ms}, default_page_size=25
    )


async def until(condition, what: str, timeout_s: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def lock_holders(t, config_id, path: str, filter_hash: str) -> list[int]:  # type: ignore[no-untyped-def]
    key = lock_key(config_id, path, filter_hash) & 0xFFFFFFFFFFFFFFFF
    return [
        pid
        for (pid,) in t.rows(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid)",
            hi=key >> 32,
            lo=key & 0xFFFFFFFF,
        )
    ]


def new_run(t, template: uuid.UUID, pages: int = 0) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A run row of ``template`` as an engine would have made it (status running)."""
    with t.database.engine.begin() as conn:
        return conn.execute(  # type: ignore[no-any-return]
            text(
                "INSERT INTO cc_sync_run (config_id, template_id, resource_path, filter_hash,"
                " trigger, created_by, pages) SELECT config_id, id, resource_path, filter_hash,"
                " 'manual', 't', :pages FROM cc_odata_query_template WHERE id = :t RETURNING id"
            ),
            {"t": template, "pages": pages},
        ).scalar_one()


async def claim(aengine, t, template, run_id, lease_s: float = 30) -> uuid.UUID | None:  # type: ignore[no-untyped-def]
    """Open the template's cursor for ``run_id`` straight at the table (no advisory lock);
    the run id when it got the lease, None when a live lease refused it."""
    fh = t.scalar("SELECT filter_hash FROM cc_odata_query_template WHERE id = :t", t=template)
    try:
        await open_cursor(
            aengine,
            config_id=t.config_id,
            template_id=template,
            resource_path="/subjects/odata",
            filter_hash=fh,
            filter_text=None,
            page_size=25,
            shape={},
            run_id=run_id,
            from_start=False,
            lease_s=lease_s,
        )
    except CursorBusy:
        return None
    return run_id  # type: ignore[no-any-return]


def cursor_matches_silver(t) -> None:  # type: ignore[no-untyped-def]
    landed = t.scalar("SELECT records_landed FROM cc_pagination_state")
    silver = t.scalar("SELECT count(*) FROM cc_silver_record WHERE resource_path = '/subjects'")
    assert landed == silver


async def test_a_dead_lock_connection_lets_no_second_engine_in(tenant, aengine, cli) -> None:  # type: ignore[no-untyped-def]
    t = slow_tenant(tenant)
    template = t.template("/subjects/odata")
    first = asyncio.create_task(run_template(aengine, template, lease_s=LEASE_S))
    await until(lambda: (t.scalar("SELECT pages FROM cc_sync_run") or 0) >= 1, "a first page")
    fh = t.scalar("SELECT filter_hash FROM cc_sync_run")
    holders = lock_holders(t, t.config_id, "/subjects/odata", fh)
    assert len(holders) == 1
    t.scalar("SELECT pg_terminate_backend(:p)", p=holders[0])  # the lock is gone with it
    await until(lambda: not lock_holders(t, t.config_id, "/subjects/odata", fh), "the lock gone")

    # a second engine gets the advisory lock now, but not the cursor: the lease is renewed
    assert not first.done(), "the first run ended before the test could race it"
    started = time.monotonic()
    with pytest.raises(CursorBusy, match="renews the lease"):
        await run_template(aengine, template, trigger="resume", lease_s=LEASE_S)
    refused_after_s = time.monotonic() - started
    assert refused_after_s < LEASE_S + 1
    # nor does a sweep take the live run for a dead one, nor does `resume` admit it
    assert await mark_stale_runs(aengine) == []
    running = str(t.scalar("SELECT id FROM cc_sync_run WHERE status = 'running'"))
    result = await asyncio.to_thread(cli, "resume", running)
    assert result.exit_code == 2 and "still running" in result.stderr

    summary = await first
    assert summary.status == "succeeded", summary.message
    assert summary.landed == SUBJECTS
    assert t.scalar("SELECT count(*) FROM cc_sync_run") == 1  # nobody else ever ran
    cursor_matches_silver(t)
    print(f"second engine refused after {refused_after_s:.2f} s (lease {LEASE_S} s)")


@pytest.mark.skipif(
    "FAKETIME" in os.environ,
    reason="under libfaketime (tests/date_matrix.sh) the server's idle timer fires late,"
    " after the first run ended: there is nothing left to race",
)
async def test_idle_session_timeout_kills_the_lock_and_the_run_goes_on(
    tenant, aengine, database
) -> None:  # type: ignore[no-untyped-def]
    t = slow_tenant(tenant, latency_ms=400)
    name = database.engine.url.database
    with database.engine.begin() as conn:  # new sessions only: the pool is reconnected below
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '1s'"))
    await aengine.dispose()
    try:
        template = t.template("/subjects/odata")
        first = asyncio.create_task(run_template(aengine, template, lease_s=LEASE_S))
        await until(lambda: (t.scalar("SELECT pages FROM cc_sync_run") or 0) >= 2, "two pages")
        fh = t.scalar("SELECT filter_hash FROM cc_sync_run")
        await until(
            lambda: not lock_holders(t, t.config_id, "/subjects/odata", fh), "the idle lock killed"
        )
        assert not first.done(), "the first run ended before the test could race it"
        with pytest.raises(CursorBusy):
            await run_template(aengine, template, trigger="resume", lease_s=LEASE_S)
        summary = await first  # and releasing the dead lock hides nothing
        assert summary.status == "succeeded", summary.message
        assert summary.landed == SUBJECTS
        cursor_matches_silver(t)
    finally:
        with database.engine.begin() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET idle_session_timeout'))


async def test_a_run_whose_cursor_was_taken_stops_and_sends_nothing_more(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = slow_tenant(tenant)
    template = t.template("/subjects/odata")
    first = asyncio.create_task(run_template(aengine, template, lease_s=30))
    await until(lambda: (t.scalar("SELECT pages FROM cc_sync_run") or 0) >= 2, "two pages")
    # another run takes the cursor over, as one would after the lease ran out
    other = new_run(t, template)
    with t.database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_pagination_state SET owner_run_id = :o, lease_token = lease_token + 1,"
                " lease_expires_at = now() + interval '1 minute'"
            ),
            {"o": other},
        )
        landed_at_takeover = conn.execute(
            text("SELECT records_landed FROM cc_pagination_state")
        ).scalar_one()
        requests_at_takeover = conn.execute(
            text("SELECT count(*) FROM cc_api_request_log")
        ).scalar_one()
    summary = await first
    assert summary.status == "partial"
    assert summary.message.startswith("lost_cursor:")
    kinds = [
        k for (k,) in t.rows("SELECT kind FROM cc_error_event WHERE run_id = :r", r=summary.run_id)
    ]
    assert kinds == ["lost_cursor"]
    # at most the request already written (fetched ahead) went out after the takeover
    assert t.scalar("SELECT count(*) FROM cc_api_request_log") - requests_at_takeover <= 1
    assert t.sim.stats()["api_requests"] == t.scalar("SELECT count(*) FROM cc_api_request_log")
    # the page in flight did not land, but its response is in the audit trail
    assert t.scalar("SELECT records_landed FROM cc_pagination_state") == landed_at_takeover
    assert t.scalar("SELECT owner_run_id FROM cc_pagination_state") == other
    assert (
        t.scalar(
            "SELECT count(*) FROM cc_api_request_log q WHERE NOT EXISTS (SELECT 1 FROM"
            " cc_api_response_log s WHERE s.request_id = q.id)"
        )
        == 0
    )
    cursor_matches_silver(t)


async def test_claims_racing_for_an_expired_lease_have_one_winner(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    """Straight at the table, around the advisory lock: the data decides alone."""
    t = tenant()
    template = t.template("/subjects/odata")

    first = new_run(t, template)
    assert await claim(aengine, t, template, first) == first
    rivals = [new_run(t, template) for _ in range(8)]
    assert [await claim(aengine, t, template, r) for r in rivals[:2]] == [None, None]  # live
    with t.database.engine.begin() as conn:  # the lease runs out
        conn.execute(text("UPDATE cc_pagination_state SET lease_expires_at = now()"))
    winners = [
        w for w in await asyncio.gather(*(claim(aengine, t, template, r) for r in rivals)) if w
    ]
    assert len(winners) == 1
    assert t.scalar("SELECT owner_run_id FROM cc_pagination_state") == winners[0]
    assert t.scalar("SELECT lease_token FROM cc_pagination_state") == 2  # one bump per takeover


async def test_a_killed_runs_lease_runs_out_and_the_cursor_is_free(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    """An engine gone without a word (no release): the next run waits at most the lease."""
    t = tenant()
    template = t.template("/subjects/odata")
    fh = t.scalar("SELECT filter_hash FROM cc_odata_query_template WHERE id = :t", t=template)
    dead = new_run(t, template, pages=1)
    assert await claim(aengine, t, template, dead, lease_s=1.5) == dead
    started = time.monotonic()
    said: list[str] = []
    await wait_for_lease(
        aengine,
        config_id=t.config_id,
        resource_path="/subjects/odata",
        filter_hash=fh,
        on_wait=said.append,
    )
    waited_s = time.monotonic() - started
    assert 0.5 < waited_s < 3.5
    assert len(said) == 1 and said[0].startswith("waiting up to ")  # said once, not per poll
    assert f"the lease of run {str(dead)[:8]} on /subjects/odata" in said[0]
    assert await mark_stale_runs(aengine) == [dead]  # the sweep sees the lease ran out
    summary = await run_template(aengine, template, trigger="resume", lease_s=LEASE_S)
    assert summary.status == "succeeded" and summary.landed == SUBJECTS
    assert t.scalar("SELECT lease_token FROM cc_pagination_state") == 2
    assert t.scalar("SELECT lease_expires_at FROM cc_pagination_state") is None  # given back
    print(f"a dead run's cursor was free after {waited_s:.2f} s (lease 1.5 s)")
