"""kill -9 the engine at seeded points, resume each time: Silver exact, nothing unlogged."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time

import pytest

from tests.tenant import KEY_ENV, SIM_KEY

pytestmark = pytest.mark.slow
RECORDS = 1500
KILLS = 20


def engine_process(db_url: str, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    # a short lease: a killed engine's cursor is free 2 s after its last beat
    env.update({"CC_DATABASE_URL": db_url, KEY_ENV: SIM_KEY, "CC_CURSOR_LEASE_S": "2"})
    env["CC_DATA_DIR"] = os.environ["CC_DATA_DIR"]  # this test's (its seal key)
    return subprocess.Popen(
        [sys.executable, "-m", "cc_console", *args, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_run(t, process, count: int) -> int:  # type: ignore[no-untyped-def]
    """Block until the engine process has created its run row (or exited)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if t.scalar("SELECT count(*) FROM cc_sync_run") >= count:
            return count
        time.sleep(0.02)
    return t.scalar("SELECT count(*) FROM cc_sync_run")


def wait_for_pages(t, process, pages: int) -> None:  # type: ignore[no-untyped-def]
    """Block until the newest run has landed ``pages`` pages (or the process exited)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        landed = t.scalar("SELECT pages FROM cc_sync_run ORDER BY started_at DESC LIMIT 1")
        if landed >= pages:
            return
        time.sleep(0.005)


def kill_and_resume(t, db_url: str, template: object, kills: int, seed: int) -> dict:  # type: ignore[no-untyped-def]
    """Sync, kill -9 at ``kills`` seeded points (after 1-3 more pages), resume each time;
    returns the final run's summary."""
    rng = random.Random(seed)
    runs_seen = t.scalar("SELECT count(*) FROM cc_sync_run")  # runs before this chain
    process = engine_process(db_url, "sync", "-t", str(template))
    killed = 0
    for _ in range(kills * 2):
        runs_seen = wait_for_run(t, process, runs_seen + 1)
        # a seeded kill point: after 1-3 more pages landed, then a few ms into the next one
        # (counted in pages, not seconds, so a faster engine still gets killed every time)
        wait_for_pages(t, process, rng.randint(1, 3))
        time.sleep(rng.uniform(0.0, 0.03))
        if process.poll() is None:
            process.kill()
            killed += 1
        process.communicate(timeout=30)
        last = t.scalar("SELECT id FROM cc_sync_run ORDER BY started_at DESC LIMIT 1")
        if killed >= kills:
            break
        process = engine_process(db_url, "resume", str(last))
    row = t.rows(
        "SELECT status, odata_count, COALESCE(chain_records_landed, records_landed) AS landed"
        " FROM cc_sync_run WHERE id = :r",
        r=last,
    )[0]
    if row.status == "succeeded":  # the last kill came as that run was ending: nothing to resume
        assert killed == kills
        return {"status": row.status, "reconciled": row.landed == row.odata_count}
    final = engine_process(db_url, "resume", str(last))
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert killed == kills
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.mark.parametrize("paging", ["auto", "skip", "server"])
def test_kill_nine_and_resume_in_each_paging_mode(tenant, db_url, paging) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.test_paging_modes import odata_tenant, set_template

    # forty pages of the service's 50: each mode pages by links or $skip, and five kills after
    # 1-3 pages each (plus what lands while the kill is on its way) never reach the end (at
    # 600 a fast engine finished before the fifth kill, seen in CI)
    size = 2000
    t = odata_tenant(tenant, latency_ms=8, odata4_sizes={"Products": size})
    options = {} if paging == "server" else {"$top": 100}
    summary = kill_and_resume(t, db_url, set_template(t, "Products", paging, **options), 5, 7)
    assert summary["status"] == "succeeded" and summary["reconciled"] is True
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == size
    assert t.scalar("SELECT count(DISTINCT record_key) FROM cc_silver_record") == size


def test_kill_nine_and_resume(tenant, db_url) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={
            "rate_limit": {"enabled": False},
            "latency_ms": 8,
            "sizes": {"patient-visits": RECORDS},
        },
        default_page_size=15,
    )
    template = t.template("/patient-visits/odata")
    summary = kill_and_resume(t, db_url, template, KILLS, 2026)
    assert summary["status"] == "succeeded"
    killed = KILLS

    assert t.scalar("SELECT count(*) FROM cc_silver_record") == RECORDS
    assert t.scalar("SELECT count(DISTINCT record_key) FROM cc_silver_record") == RECORDS
    # no request left without its row: the server never saw more requests than were logged
    assert t.sim.stats()["api_requests"] <= t.scalar("SELECT count(*) FROM cc_api_request_log")
    # at most the in-flight requests of each killed run lack a response: the page being
    # landed and the next one, already requested (the engine prefetches one page ahead)
    unanswered = t.scalar(
        "SELECT count(*) FROM cc_api_request_log q WHERE NOT EXISTS (SELECT 1 FROM"
        " cc_api_response_log s WHERE s.request_id = q.id AND s.sent_at = q.sent_at)"
        " AND NOT EXISTS (SELECT 1 FROM cc_error_event e WHERE e.request_id = q.id)"
    )
    assert unanswered <= 2 * killed
    runs = t.rows("SELECT id, parent_run_id, status FROM cc_sync_run ORDER BY started_at")
    assert runs[-1].status == "succeeded"
    interrupted = t.scalar(
        "SELECT count(DISTINCT run_id) FROM cc_error_event WHERE kind = 'interrupted'"
    )
    killed_runs = [r for r in runs[:-1] if r.status != "succeeded"]
    assert interrupted == len(killed_runs) and all(
        r.status in ("failed", "partial") for r in killed_runs
    )
    for previous, current in zip(runs, runs[1:], strict=False):
        assert current.parent_run_id == previous.id  # each resume links its parent
    t.assert_audit_trail_proved()  # the killed runs' chains were sealed by the sweep


def test_kill_nine_mid_incremental_run_and_resume_exactly(tenant, db_url) -> None:  # type: ignore[no-untyped-def]
    from tests.engine.test_incremental_sync import STUDIES, change, server_rows, silver

    t = tenant(
        sim={"rate_limit": {"enabled": False}, "latency_ms": 8, "sizes": {"studies": 900}},
        default_page_size=15,
    )
    template = t.template("/studies/odata", incremental=STUDIES)
    first = engine_process(db_url, "sync", "-t", str(template))
    assert first.communicate(timeout=120) and first.returncode == 0
    change(t, resource="studies", update=400, insert=20)
    summary = kill_and_resume(t, db_url, template, 5, 18)
    assert summary["status"] == "succeeded" and summary["reconciled"] is True
    assert silver(t) == server_rows(t)  # every change landed once, payloads exact
    modes = [m for (m,) in t.rows("SELECT sync_mode FROM cc_sync_run ORDER BY started_at")]
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}
