"""Worker processes (`cc-console worker`) against a real simulator over a socket: the schedule
across a pool, SIGTERM and kill -9 mid-run, and what is resumed by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.tenant import KEY_ENV, SIM_KEY, Tenant

pytestmark = pytest.mark.slow

WORKER_ENV = {
    "CC_WORKER_TICK_S": "1",
    "CC_WORKER_HEARTBEAT_S": "0.5",  # a worker silent for 1.5 s is dead
    "CC_CURSOR_LEASE_S": "2",  # a killed run's cursor is free 2 s after its last beat
    "CC_WORKER_RESUME_DELAY_S": "0.2",
    "CC_WORKER_MAX_AUTO_RESUMES": "30",
}


class Pool:
    """Worker processes on this test's database; every one is stopped after the test."""

    def __init__(self, db_url: str, logs: Path) -> None:
        self.db_url = db_url
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
        env.update({"CC_DATABASE_URL": self.db_url, KEY_ENV: SIM_KEY, **WORKER_ENV})
        env["CC_DATA_DIR"] = os.environ["CC_DATA_DIR"]  # the test's (its seal key)
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "cc_console", "worker", "--name", name, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def pool(db_url: str, tmp_path: Path) -> Iterator[Pool]:
    workers = Pool(db_url, tmp_path)
    yield workers
    workers.stop_all()


def wait_until(check: Callable[[], Any], timeout_s: float = 60, what: str = "") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


def schedule(t: Tenant, template: uuid.UUID, every_s: int | None) -> None:
    with t.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE cc_odata_query_template SET schedule_interval_s = :s WHERE id = :t"),
            {"s": every_s, "t": template},
        )


def test_three_workers_run_each_due_template_once_per_interval_never_overlapping(
    tenant, pool
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"latency_ms": 30})
    resources = [
        "/studies/odata",
        "/sites/odata",
        "/subjects/odata",
        "/patients/odata",
        "/visits/odata",
        "/elements/odata",
    ]
    every = {}
    for i, resource in enumerate(resources):
        template = t.template(resource, **{"$top": 100})
        every[template] = 2 + i % 3  # 2, 3 or 4 s
        schedule(t, template, every[template])
    for n in range(3):
        pool.start(f"w{n}")
    time.sleep(30)
    for template in every:
        schedule(t, template, None)  # the window closes: no new runs
    wait_until(
        lambda: t.scalar("SELECT count(*) FROM cc_sync_run WHERE status = 'running'") == 0,
        what="runs to end",
    )
    for template, interval in every.items():
        runs = t.rows(
            "SELECT r.started_at, r.finished_at, r.status, r.job_id, j.args->>'template_id' AS jt"
            " FROM cc_sync_run r LEFT JOIN procrastinate_jobs j ON j.id = r.job_id"
            " WHERE r.template_id = :t ORDER BY r.started_at",
            t=template,
        )
        assert len(runs) >= 30 // (interval + 2), (interval, len(runs))
        assert all(r.status == "succeeded" for r in runs)
        assert all(r.jt == str(template) for r in runs)  # the job says whose run it made
        for before, after in zip(runs, runs[1:], strict=False):
            assert after.started_at >= before.finished_at  # never two at once
            gap = (after.started_at - before.started_at).total_seconds()
            # due once per interval: never sooner (no duplicate), never a tick and more late
            assert interval - 0.05 <= gap <= interval + 2.5, (interval, gap)
    ticks = t.scalar("SELECT count(DISTINCT defer_timestamp) FROM procrastinate_periodic_defers")
    assert ticks >= 1  # one periodic defer row per tick, whichever worker deferred it
    # each process named its two procrastinate workers, for the Workers view
    names = t.rows(
        "SELECT n.name, n.role, n.pid FROM cc_worker n JOIN procrastinate_workers w"
        " ON w.id = n.procrastinate_id ORDER BY n.name, n.role"
    )
    assert [(n.name, n.role) for n in names] == [
        (f"w{n}", role) for n in range(3) for role in ("schedule", "sync")
    ]
    assert {n.pid for n in names} == {p.pid for p in pool.processes.values()}


def test_sigterm_and_kill_nine_mid_run_end_resumable_and_another_worker_finishes(
    tenant, pool
) -> None:  # type: ignore[no-untyped-def]
    records = 3000
    t = tenant(sim={"latency_ms": 40, "sizes": {"patient-visits": records}})
    template = t.template("/patient-visits/odata", **{"$top": 50})
    schedule(t, template, 3600)  # due once: the first tick starts it

    def pages_of_latest() -> int:
        return t.scalar("SELECT pages FROM cc_sync_run ORDER BY started_at DESC LIMIT 1") or 0

    first = pool.start("first")
    wait_until(lambda: pages_of_latest() >= 3, what="the first run to land pages")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0  # between attempts, within the read timeout
    stopped = t.rows("SELECT id, status, message FROM cc_sync_run ORDER BY started_at DESC")[0]
    assert stopped.status == "partial" and "SIGTERM" in stopped.message

    second = pool.start("second")
    wait_until(
        lambda: t.scalar(
            "SELECT count(*) FROM cc_sync_run WHERE parent_run_id = :p AND pages >= 3", p=stopped.id
        ),
        what="the second worker to resume it",
    )
    second.kill()  # kill -9 mid-run: no goodbye
    second.wait(timeout=10)
    pool.start("third")
    wait_until(
        lambda: (
            t.scalar("SELECT status FROM cc_sync_run ORDER BY started_at DESC LIMIT 1")
            == "succeeded"
        ),
        timeout_s=120,
        what="the third worker to finish the chain",
    )
    chain = t.rows(
        "SELECT trigger, status, auto_resumes, message FROM cc_sync_run ORDER BY started_at"
    )
    assert [r.trigger for r in chain] == ["schedule", "resume", "resume"]
    assert [r.auto_resumes for r in chain] == [0, 1, 2]
    assert "interrupted" in chain[1].message  # ended by the stale sweep, not by itself
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == records
    assert t.scalar("SELECT count(DISTINCT record_key) FROM cc_silver_record") == records
    killed_jobs = t.scalar("SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'")
    assert killed_jobs == 1  # the dead worker's job, failed by the sweep to free the lock


def test_a_retryable_failure_is_resumed_by_itself_and_a_401_is_not(tenant, pool, cli) -> None:  # type: ignore[no-untyped-def]
    # every third request a 503 and no retries: runs keep failing, and keep being resumed
    flaky = tenant(sim={"faults": {"error_503_bare": 0.3}, "seed": 3}, max_retries=0)
    records = flaky.sim.running.config.sizes["patients"]
    patients = flaky.template("/patients/odata", **{"$top": 20})
    refused = tenant(sim={"api_key": "FAKE-another-key-not-a-secret"})  # ours gets a 401
    sites = refused.template("/sites/odata")
    assert cli("sync", "-t", str(patients), "--enqueue").exit_code == 0
    assert cli("sync", "-t", str(sites), "--enqueue").exit_code == 0
    pool.start("only")
    wait_until(
        lambda: flaky.scalar(
            "SELECT count(*) FROM cc_sync_run WHERE template_id = :t AND status = 'succeeded'",
            t=patients,
        ),
        timeout_s=120,
        what="the flaky chain to succeed",
    )
    chain = flaky.rows(
        "SELECT status, trigger FROM cc_sync_run WHERE template_id = :t ORDER BY started_at",
        t=patients,
    )
    assert len(chain) >= 2 and chain[-1].status == "succeeded"
    assert all(r.trigger == "resume" for r in chain[1:])
    landed = flaky.scalar(
        "SELECT count(*) FROM cc_silver_record WHERE config_id = :c", c=flaky.config_id
    )
    assert landed == records
    time.sleep(3)  # three ticks: the 401 stays as it ended, for a person
    refusals = refused.rows("SELECT status FROM cc_sync_run WHERE template_id = :t", t=sites)
    assert [r.status for r in refusals] == ["failed"]
