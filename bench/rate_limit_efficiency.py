"""Rate limits learned: achieved rate and 429s against a server that says only Retry-After.

A simulator in its own process limits every key to ``R`` requests/s with a burst of ``B``
(a token bucket) and answers an over-limit request with 429 and ``Retry-After: 1`` — no
counters, no policy headers. Two cases, each on a fresh config so that (b) does not inherit
(a)'s learned rate, each run twice in a row (the second run starts from what the first
learned, through ``cc_rate_limit_state``):

- (a) one engine: one template of ``--requests`` pages;
- (b) four engines on one config: four templates (four endpoints) synced at once.

Per run it reads from the audit log (what was really sent and answered): the achieved
request rate after the first 10 s as a fraction of R, the 429s in the second half of the run
and their share of its requests, and the second run's 429s against the first's. Targets:
≥ 0.9 of R, second-half 429s ≤ 1% of requests, second run ≤ a quarter of the first's 429s.
Uses the embedded PostgreSQL (or CC_DATABASE_URL) with a fresh database ``cc_bench``.
Prints one JSON line.

    python bench/rate_limit_efficiency.py [--rate 20] [--burst 10] [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_throughput import free_port, start  # noqa: E402
from sync_throughput import fresh_database  # noqa: E402

from cc_console.engine import run_template  # noqa: E402
from cc_console.odata import canonical_params, filter_hash, params_hash  # noqa: E402
from cc_console.settings import Settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402

KEY = "bench-key-not-a-secret"
PAGE = 10
RESOURCES = ("studies", "sites", "patients", "subjects")


def start_sim(rate: float, burst: int, records: int) -> tuple[Any, int]:
    port = free_port()
    sizes = [arg for r in RESOURCES for arg in ("--records", f"{r}={records}")]
    command = [
        sys.executable, "-m", "cc_console", "sim", "--port", str(port), "--profile", "clean",
        "--rate-limit", "--per-second", str(rate), "--burst", str(burst),
        "--per-minute", "1000000", "--api-key", KEY, *sizes,
    ]  # fmt: skip
    return start(command, port), port


def seed(url: str, api: str, name: str, engines: int) -> list[str]:
    """A fresh config ``name`` with one template per engine; their ids."""
    database = open_database(Settings(database_url=url), notice=lambda _: None)
    params = canonical_params({"$top": PAGE})
    templates = []
    with database.engine.begin() as conn:
        config = conn.execute(
            text(
                "INSERT INTO cc_api_client_config (name, base_url, secret_ref, created_by,"
                " updated_by, default_page_size, read_timeout_s) VALUES (:n, :u,"
                " 'env:CC_BENCH_KEY', 'bench', 'bench', :p, 60) RETURNING id"
            ),
            {"n": name, "u": api, "p": PAGE},
        ).scalar_one()
        for resource in RESOURCES[:engines]:
            templates.append(
                conn.execute(
                    text(
                        "INSERT INTO cc_odata_query_template (config_id, resource_path, params,"
                        " params_hash, filter_hash, created_by, updated_by) VALUES (:c, :r,"
                        " CAST(:p AS jsonb), :ph, :fh, 'bench', 'bench') RETURNING id"
                    ),
                    {
                        "c": config,
                        "r": f"/{resource}/odata",
                        "p": json.dumps(params),
                        "ph": params_hash(params),
                        "fh": filter_hash(params),
                    },
                ).scalar_one()
            )
    database.dispose()
    return [str(t) for t in templates]


async def run_all(url: str, templates: list[str]) -> list[str]:
    """Sync every template at once, each its own engine; the runs' ids."""
    database = open_database(Settings(database_url=url), migrate=False)
    engine = database.async_engine()
    summaries = await asyncio.gather(
        *(run_template(engine, uuid.UUID(t), full_refresh=True) for t in templates)
    )
    await engine.dispose()
    database.dispose()
    return [str(s.run_id) for s in summaries]


def measure(url: str, runs: list[str], rate: float) -> dict[str, Any]:
    """What the audit log says the runs sent and got back."""
    database = open_database(Settings(database_url=url), migrate=False, notice=lambda _: None)
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT extract(epoch FROM q.sent_at) AS at, s.status_code AS status"
                " FROM cc_api_request_log q JOIN cc_api_response_log s ON s.request_id = q.id"
                " WHERE q.run_id = ANY(CAST(:runs AS uuid[])) ORDER BY q.sent_at"
            ),
            {"runs": runs},
        ).all()
        statuses = conn.execute(
            text("SELECT status FROM cc_sync_run WHERE id = ANY(CAST(:runs AS uuid[]))"),
            {"runs": runs},
        ).scalars()
        run_statuses = sorted(set(statuses))
    database.dispose()
    start, end = float(rows[0].at), float(rows[-1].at)
    half = start + (end - start) / 2
    accepted_late = sum(1 for r in rows if r.status != 429 and float(r.at) >= start + 10)
    second_half = [r for r in rows if float(r.at) >= half]
    late_429 = sum(1 for r in second_half if r.status == 429)
    return {
        "status": run_statuses,
        "requests": len(rows),
        "http_429": sum(1 for r in rows if r.status == 429),
        "seconds": round(end - start, 1),
        "rate_after_10s_of_R": round(accepted_late / (end - start - 10) / rate, 3)
        if end - start > 10
        else None,
        "second_half_429": late_429,
        "second_half_429_share": round(late_429 / len(second_half), 4),
    }


def case(url: str, api: str, name: str, engines: int, rate: float) -> dict[str, Any]:
    templates = seed(url, api, name, engines)
    first = measure(url, asyncio.run(run_all(url, templates)), rate)
    second = measure(url, asyncio.run(run_all(url, templates)), rate)
    ratio = second["http_429"] / first["http_429"] if first["http_429"] else None
    meets = (
        all((r["rate_after_10s_of_R"] or 0) >= 0.9 for r in (first, second))
        and all(r["second_half_429_share"] <= 0.01 for r in (first, second))
        and second["http_429"] <= first["http_429"] / 4
    )
    return {
        "engines": engines,
        "first": first,
        "second": second,
        "second_vs_first_429": None if ratio is None else round(ratio, 3),
        "meets_targets": meets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400, help="pages per template")
    args = parser.parse_args()
    os.environ["CC_BENCH_KEY"] = KEY
    sim, port = start_sim(args.rate, args.burst, args.requests * PAGE)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        url = fresh_database()
        one = case(url, api, "bench-one", 1, args.rate)
        four = case(url, api, "bench-four", 4, args.rate)
    finally:
        sim.terminate()
        sim.wait(10)
    print(
        json.dumps(
            {
                "bench": "rate_limit_efficiency",
                "limit": {"per_second": args.rate, "burst": args.burst, "headers": "Retry-After"},
                "pages_per_template": args.requests,
                "one_engine": one,
                "four_engines": four,
                "targets": {
                    "rate_after_10s_of_R_min": 0.9,
                    "second_half_429_share_max": 0.01,
                    "second_vs_first_429_max": 0.25,
                },
            }
        )
    )


if __name__ == "__main__":
    main()
