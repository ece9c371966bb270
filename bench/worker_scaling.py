"""Worker pool scaling: 12 templates queued at once, run by 1, 2 and 4 `cc-console worker`
processes (one run at a time each), against a simulator without rate limits that adds 100 ms
to every request — so the wait is the server's, not the machine's 2 cores.

Per case (a fresh database each, so nothing is inherited): total records/s from the first
enqueue to the last run's end, and the per-job overhead enqueue → start, p50/p95: a job's
start minus the moment it could have started (its enqueue, or the end of the job its worker
ran before it), from procrastinate's own events, by the database's clock. One JSON line.

    python bench/worker_scaling.py [--records 2000] [--top 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_throughput import start_clean_sim  # noqa: E402
from sync_throughput import fresh_database  # noqa: E402

from cc_console.odata import canonical_params, filter_hash, params_hash  # noqa: E402
from cc_console.settings import Settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402
from cc_console.store.listen import psycopg_conninfo  # noqa: E402
from cc_console.workers.app import build_app, defer_sync  # noqa: E402

KEY = "bench-key-not-a-secret"
TEMPLATES = 12


def seed(url: str, api: str, top: int) -> list[uuid.UUID]:
    """Twelve configs (one cursor and one rate-limit scope each) of one resource."""
    database = open_database(Settings(database_url=url), notice=lambda _: None)
    params = canonical_params({"$top": top})
    templates = []
    with database.engine.begin() as conn:
        for n in range(TEMPLATES):
            config = conn.execute(
                text(
                    "INSERT INTO cc_api_client_config (name, base_url, secret_ref, created_by,"
                    " updated_by, read_timeout_s) VALUES (:n, :u, 'env:CC_BENCH_KEY', 'bench',"
                    " 'bench', 60) RETURNING id"
                ),
                {"n": f"tenant-{n:02d}", "u": api},
            ).scalar_one()
            templates.append(
                conn.execute(
                    text(
                        "INSERT INTO cc_odata_query_template (config_id, resource_path, params,"
                        " params_hash, filter_hash, created_by, updated_by) VALUES (:c,"
                        " '/patient-visits/odata', CAST(:p AS jsonb), :ph, :fh, 'bench',"
                        " 'bench') RETURNING id"
                    ),
                    {
                        "c": config,
                        "p": json.dumps(params),
                        "ph": params_hash(params),
                        "fh": filter_hash(params),
                    },
                ).scalar_one()
            )
    database.dispose()
    return templates


async def enqueue_all(url: str, templates: list[uuid.UUID]) -> None:
    database = open_database(Settings(database_url=url), migrate=False)
    app = build_app(psycopg_conninfo(database.url))
    async with app.open_async():
        for template in templates:
            await defer_sync(app, template, action="start", trigger="manual", created_by="bench")
    database.dispose()


def workers(url: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update({"CC_DATABASE_URL": url, "CC_BENCH_KEY": KEY, "CC_WORKER_HEARTBEAT_S": "2"})
    return [
        subprocess.Popen(
            [sys.executable, "-m", "cc_console", "worker", "--concurrency", "1", "--name", f"b{n}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(count)
    ]


def case(api: str, count: int, top: int, records: int) -> dict[str, object]:
    url = fresh_database(f"cc_bench_workers_{count}")
    templates = seed(url, api, top)
    database = open_database(Settings(database_url=url), migrate=False)
    pool = workers(url, count)
    try:
        # every worker up (each process registers a scheduling and a syncing worker) before
        # the jobs are queued: a worker's start-up is not the queue's overhead
        with database.engine.connect() as conn:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                up = conn.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
                conn.commit()
                if up >= 2 * count:
                    break
                time.sleep(0.1)
        asyncio.run(enqueue_all(url, templates))
        deadline = time.monotonic() + 600
        with database.engine.connect() as conn:
            while time.monotonic() < deadline:
                done = conn.execute(
                    text("SELECT count(*) FROM cc_sync_run WHERE status <> 'running'")
                ).scalar_one()
                conn.commit()
                if done >= TEMPLATES:
                    break
                time.sleep(0.2)
            totals = conn.execute(
                text(
                    "SELECT sum(records_landed) AS landed, count(*) FILTER (WHERE status ="
                    " 'succeeded') AS ok, (SELECT min(at) FROM procrastinate_events WHERE"
                    " type = 'deferred') AS first, max(finished_at) AS last FROM cc_sync_run"
                )
            ).one()
            # per job: its start minus the moment it could have started — its enqueue, or
            # the end of the job its worker ran before it, whichever came later
            waits = [
                float(row.wait)
                for row in conn.execute(
                    text(
                        "WITH j AS (SELECT j.id, j.worker_id,"
                        " (SELECT min(at) FROM procrastinate_events e WHERE e.job_id = j.id"
                        "   AND e.type = 'deferred') AS deferred,"
                        " (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id"
                        "   AND e.type = 'started') AS started,"
                        " (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id"
                        "   AND e.type IN ('succeeded', 'failed')) AS ended"
                        " FROM procrastinate_jobs j WHERE j.task_name = 'cc:sync')"
                        " SELECT EXTRACT(EPOCH FROM started - GREATEST(deferred, COALESCE(lag(ended)"
                        " OVER (PARTITION BY worker_id ORDER BY started), deferred))) AS wait"
                        " FROM j WHERE started IS NOT NULL"
                    )
                )
            ]
    finally:
        for process in pool:
            process.send_signal(signal.SIGTERM)
        for process in pool:
            process.wait(timeout=60)
        database.dispose()
    seconds = (totals.last - totals.first).total_seconds()
    waits.sort()
    landed = int(totals.landed or 0)
    return {
        "workers": count,
        "runs_succeeded": totals.ok,
        "records": landed,
        "records_expected": TEMPLATES * records,
        "seconds": round(seconds, 2),
        "records_per_s": round(landed / seconds),
        "jobs_started": len(waits),
        "enqueue_to_start_p50_s": round(statistics.median(waits), 3),
        "enqueue_to_start_p95_s": round(_p95(waits), 3),
    }


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="patient-visits per template")
    parser.add_argument("--top", type=int, default=100)
    args = parser.parse_args()
    sim, port = start_clean_sim(args.records, KEY, latency_ms=100)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        cases = {n: case(api, n, args.top, args.records) for n in (1, 2, 4)}
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    one, four = cases[1]["records_per_s"], cases[4]["records_per_s"]
    speedup = round(float(four) / float(one), 2)  # type: ignore[arg-type]
    overhead_p95 = max(float(c["enqueue_to_start_p95_s"]) for c in cases.values())  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "bench": "worker_scaling",
                "templates": TEMPLATES,
                "latency_ms": 100,
                "cases": list(cases.values()),
                "four_vs_one_records_per_s": speedup,
                "targets": {"four_vs_one_min": 3.0, "enqueue_to_start_p95_max_s": 1.0},
                "meets_targets": speedup >= 3.0 and overhead_p95 <= 1.0,
            }
        )
    )


if __name__ == "__main__":
    main()
