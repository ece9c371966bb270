"""Engine throughput against the simulator: the full engine vs a bare httpx paging loop.

Both page through 200,000 patient-visits at $top=1000 from a simulator in its own process
(clean profile, no rate limit). (a) the ceiling: an httpx.AsyncClient loop that parses the
JSON and stores nothing; (b) the full engine: every request and response logged, Silver
upserted, validation done. Uses the embedded PostgreSQL (or CC_DATABASE_URL) with a fresh
database ``cc_bench``. Prints one JSON line.

    python bench/sync_throughput.py [--records 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx
import orjson
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_throughput import start_clean_sim  # noqa: E402

from cc_console.engine import run_template  # noqa: E402
from cc_console.odata import canonical_params, filter_hash, params_hash  # noqa: E402
from cc_console.settings import Settings, load_settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402

KEY = "bench-key-not-a-secret"


async def bare_loop(api: str, records: int) -> float:
    async with httpx.AsyncClient(headers={"X-ApiKey": KEY}, timeout=60) as client:
        started = time.perf_counter()
        skip = served = 0
        while skip < records:
            response = await client.get(
                f"{api}/patient-visits/odata",
                params={"$top": "1000", "$skip": str(skip), "$orderby": "id asc"},
            )
            served += len(orjson.loads(response.content)["items"])
            skip += 1000
        return served / (time.perf_counter() - started)


def fresh_database(name: str = "cc_bench") -> str:
    base = open_database(load_settings(), migrate=False)
    admin = create_engine(
        base.url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base.url.set(database=name).render_as_string(hide_password=False)
    base.dispose()
    return url


def seed(url: str, api: str) -> str:
    database = open_database(Settings(database_url=url), notice=lambda _: None)
    params = canonical_params({"$top": 1000})
    with database.engine.begin() as conn:
        config = conn.execute(
            text(
                "INSERT INTO cc_api_client_config (name, base_url, secret_ref, created_by,"
                " updated_by, default_page_size, read_timeout_s) VALUES ('bench', :u,"
                " 'env:CC_BENCH_KEY', 'bench', 'bench', 1000, 60) RETURNING id"
            ),
            {"u": api},
        ).scalar_one()
        template = conn.execute(
            text(
                "INSERT INTO cc_odata_query_template (config_id, resource_path, params, params_hash,"
                " filter_hash, created_by, updated_by) VALUES (:c, '/patient-visits/odata',"
                " CAST(:p AS jsonb), :ph, :fh, 'bench', 'bench') RETURNING id"
            ),
            {
                "c": config,
                "p": json.dumps(params),
                "ph": params_hash(params),
                "fh": filter_hash(params),
            },
        ).scalar_one()
    database.dispose()
    return str(template)


async def engine_run(url: str, template: str) -> tuple[float, dict[str, object], int]:
    """Records/s of one full run, its summary, and the SQL statements it executed."""
    database = open_database(Settings(database_url=url), migrate=False)
    engine = database.async_engine()
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    started = time.perf_counter()
    summary = await run_template(engine, __import__("uuid").UUID(template))
    elapsed = time.perf_counter() - started
    await engine.dispose()
    database.dispose()
    return summary.records / elapsed, summary.as_dict(), statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    os.environ["CC_BENCH_KEY"] = KEY
    sim, port = start_clean_sim(args.records, KEY)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        asyncio.run(bare_loop(api, args.records))  # warm the simulator: it must not be the limit
        bare = asyncio.run(bare_loop(api, args.records))
        url = fresh_database()
        template = seed(url, api)
        full, summary, statements = asyncio.run(engine_run(url, template))
    finally:
        sim.terminate()
        sim.wait(10)
    print(
        json.dumps(
            {
                "bench": "sync_throughput",
                "records": args.records,
                "page_size": 1000,
                "bare_loop_records_per_s": round(bare),
                "engine_records_per_s": round(full),
                "engine_vs_bare": round(full / bare, 3),
                "bare_over_engine": round(bare / full, 2),
                "target_engine_records_per_s": 25_000,
                "run_status": summary["status"],
                "reconciled": summary["reconciled"],
                "pages": summary["pages"],
                # every statement of the run (rate limits, requests, landings) per page landed
                "statements_per_page": round(statements / max(1, int(summary["pages"])), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
