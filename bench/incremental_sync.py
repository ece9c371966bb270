"""Incremental sync vs a full one: 200,000 studies, 1% changed, requests and time of each.

A simulator in its own process (clean, no rate limit) serves ``--records`` studies; an
incremental template (``lastUpdatedOn``, lookback 5 minutes, nulls included) reads them all
once (its first run, mode ``full``), then ``--changed-pct`` of them change on the server
(``POST /__sim/change``, a minute apart) and the next run reads only what changed since the
watermark. The simulator re-sorts its data after a change (a database would keep an index):
one warm-up request outside the timing does it, so the figures are the engine's. Uses the
embedded PostgreSQL (or CC_DATABASE_URL) with a fresh database ``cc_bench``. Prints one
JSON line.

    python bench/incremental_sync.py [--records 200000] [--changed-pct 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_throughput import free_port, start  # noqa: E402
from sync_throughput import fresh_database  # noqa: E402

from cc_console.engine import run_template  # noqa: E402
from cc_console.odata import canonical_params, filter_hash, params_hash  # noqa: E402
from cc_console.odata.keyset import Replication  # noqa: E402
from cc_console.settings import Settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402

KEY = "bench-key-not-a-secret"
ORDER = "lastUpdatedOn asc,id asc"


def start_sim(records: int) -> tuple[object, int]:
    port = free_port()
    command = [
        sys.executable, "-m", "cc_console", "sim", "--port", str(port), "--profile", "clean",
        "--no-rate-limit", "--api-key", KEY, "--records", f"studies={records}",
    ]  # fmt: skip
    return start(command, port), port


def seed(url: str, api: str) -> str:
    database = open_database(Settings(database_url=url), notice=lambda _: None)
    params = canonical_params({"$top": 1000})
    replication = Replication("lastUpdatedOn", "Edm.DateTimeOffset", 300.0, include_nulls=True)
    with database.engine.begin() as conn:
        config = conn.execute(
            text(
                "INSERT INTO cc_api_client_config (name, base_url, secret_ref, created_by,"
                " updated_by, default_page_size, read_timeout_s) VALUES ('bench', :u,"
                " 'env:CC_BENCH_KEY', 'bench', 'bench', 1000, 120) RETURNING id"
            ),
            {"u": api},
        ).scalar_one()
        template = conn.execute(
            text(
                "INSERT INTO cc_odata_query_template (config_id, resource_path, params, params_hash,"
                " filter_hash, incremental, created_by, updated_by) VALUES (:c, '/studies/odata',"
                " CAST(:p AS jsonb), :ph, :fh, CAST(:inc AS jsonb), 'bench', 'bench') RETURNING id"
            ),
            {
                "c": config,
                "p": json.dumps(params),
                "ph": params_hash(params),
                "fh": filter_hash(params),
                "inc": json.dumps(replication.as_dict()),
            },
        ).scalar_one()
    database.dispose()
    return str(template)


async def timed_run(url: str, template: str) -> tuple[float, dict[str, object]]:
    database = open_database(Settings(database_url=url), migrate=False)
    engine = database.async_engine()
    started = time.perf_counter()
    summary = await run_template(engine, uuid.UUID(template))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    database.dispose()
    return elapsed, summary.as_dict()


def warm(api: str, sorted_by: str = ORDER) -> float:
    """One ordered, bounded request: the simulator (re)sorts its data and types its stamps
    (what a database's index holds) outside the timed runs."""
    started = time.perf_counter()
    bounded = "lastUpdatedOn ge 1900-01-01T00:00:00Z"
    params = {"$top": "1", "$orderby": sorted_by, "$filter": bounded}
    httpx.get(f"{api}/studies/odata", params=params, headers={"X-ApiKey": KEY}, timeout=600)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    args = parser.parse_args()
    os.environ["CC_BENCH_KEY"] = KEY
    changed = round(args.records * args.changed_pct / 100)
    sim, port = start_sim(args.records)
    base = f"http://127.0.0.1:{port}"
    api = f"{base}/api/v1"
    try:
        warm_full = warm(api)
        url = fresh_database()
        template = seed(url, api)
        full_s, full = asyncio.run(timed_run(url, template))
        body = {"resource": "studies", "update": changed}
        httpx.post(f"{base}/__sim/change", json=body, timeout=600).raise_for_status()
        warm_after = warm(api)
        incremental_s, incremental = asyncio.run(timed_run(url, template))
    finally:
        sim.terminate()  # type: ignore[attr-defined]
        sim.wait(10)  # type: ignore[attr-defined]
    full_requests = int(full["requests"])  # type: ignore[call-overload]
    incremental_requests = int(incremental["requests"])  # type: ignore[call-overload]
    print(
        json.dumps(
            {
                "bench": "incremental_sync",
                "records": args.records,
                "changed": changed,
                "page_size": 1000,
                "full": {
                    "mode": full["sync_mode"],
                    "status": full["status"],
                    "records": full["records"],
                    "requests": full_requests,
                    "seconds": round(full_s, 2),
                    "records_per_s": round(int(full["records"]) / full_s),  # type: ignore[call-overload]
                },
                "incremental": {
                    "mode": incremental["sync_mode"],
                    "status": incremental["status"],
                    "records": incremental["records"],
                    "updated": incremental["updated"],
                    "unchanged": incremental["unchanged"],
                    "requests": incremental_requests,
                    "seconds": round(incremental_s, 2),
                    "asked_for": incremental["keyset_from"],
                },
                "requests_ratio": round(incremental_requests / full_requests, 4),
                "time_ratio": round(incremental_s / full_s, 4),
                "target_requests_ratio_max": 0.02,
                "meets_target": incremental_requests / full_requests <= 0.02,
                "sim_sort_warmup_s": [round(warm_full, 1), round(warm_after, 1)],
            }
        )
    )


if __name__ == "__main__":
    main()
