"""What the audit chains cost the hot path: the full engine with chaining on and off, alternated.

One simulator process (clean profile, no rate limit) and one database; the same template is
synced again and again, after one warm-up run: ``--pairs`` pairs of runs, one with every
request and response linked into its run's hash chain and sealed, one with plain inserts, in
alternating order (ABBA) so neither side always runs on a warmer cache, each after a
CHECKPOINT (so no run pays for flushing an earlier one's pages). The plain side digests no
body either. The ratio of a pair is the chained run's seconds over the plain one's (target:
median ≤ 1.05). Prints one JSON line.

    python bench/audit_chain.py [--records 100000] [--pairs 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim_throughput import start_clean_sim  # noqa: E402
from sync_throughput import KEY, fresh_database, seed  # noqa: E402

from cc_console.engine import run_template  # noqa: E402
from cc_console.settings import Settings  # noqa: E402
from cc_console.store import audit_chain  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402


async def timed_run(url: str, template: str, chained: bool) -> tuple[float, int]:
    """Seconds of one full run with chaining on or off, and the records it landed."""
    audit_chain.enabled = chained
    database = open_database(Settings(database_url=url), migrate=False)
    with database.engine.connect() as conn:  # so no run pays for an earlier run's flush
        conn.execute(text("CHECKPOINT"))
    engine = database.async_engine()
    try:
        started = time.perf_counter()
        summary = await run_template(engine, uuid.UUID(template), full_refresh=False)
        elapsed = time.perf_counter() - started
    finally:
        audit_chain.enabled = True
        await engine.dispose()
        database.dispose()
    return elapsed, summary.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args()
    os.environ["CC_BENCH_KEY"] = KEY
    sim, port = start_clean_sim(args.records, KEY)
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        url = fresh_database("cc_bench_chain")
        template = seed(url, api)
        asyncio.run(timed_run(url, template, True))  # warm-up: Silver filled, caches warm
        ratios, on_rates, off_rates = [], [], []
        for pair in range(args.pairs):
            order = (True, False) if pair % 2 == 0 else (False, True)
            seconds = {}
            for chained in order:
                elapsed, records = asyncio.run(timed_run(url, template, chained))
                assert records == args.records, records
                seconds[chained] = elapsed
            ratios.append(seconds[True] / seconds[False])
            on_rates.append(args.records / seconds[True])
            off_rates.append(args.records / seconds[False])
    finally:
        sim.terminate()
        sim.wait(10)
    print(
        json.dumps(
            {
                "bench": "audit_chain",
                "records_per_run": args.records,
                "pairs": args.pairs,
                "chained_records_per_s_median": round(statistics.median(on_rates)),
                "plain_records_per_s_median": round(statistics.median(off_rates)),
                "chained_over_plain_seconds_median": round(statistics.median(ratios), 3),
                "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
                "ratios": [round(r, 3) for r in ratios],
                "target_median_ratio": 1.05,
            }
        )
    )


if __name__ == "__main__":
    main()
