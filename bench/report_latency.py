"""Report latency over a million request rows (30 days): each report's p50/p95, and the
audit browser's page query.

Builds a fresh database ``cc_bench_reports`` (embedded PostgreSQL, or CC_DATABASE_URL's
server) with ``tests/reports/bulk.py``, vacuums it as autovacuum would, then times every
report over a 7-day window (target p95 < 500 ms) with the 24-hour window as the in-process
baseline, and keyset pages of the audit browser (target p95 < 20 ms). Prints one JSON line.

    python bench/report_latency.py [--requests 1000000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlalchemy import text  # noqa: E402
from sync_throughput import fresh_database  # noqa: E402

from cc_console.reports import REPORTS, resolve_window, run_report  # noqa: E402
from cc_console.settings import Settings  # noqa: E402
from cc_console.store.audit_query import audit_page, parse_audit_filter  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402
from tests.reports.bulk import generate_history  # noqa: E402

AUDIT_FILTERS = [
    "",
    "status:429",
    "endpoint:patients since:1h",
    "!status:200 since:7d",
    "run:ab12",
    "kind:http_429 endpoint:sites",
]


def timed(work: Any, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    url = fresh_database("cc_bench_reports")
    database = open_database(Settings(database_url=url), notice=lambda _: None)
    now = datetime.now(UTC)
    started = time.perf_counter()
    with database.engine.begin() as conn:
        generate_history(conn, now=now, requests=args.requests, days=30)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    built_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "bench": "report_latency",
        "requests": args.requests,
        "history_built_s": round(built_s, 1),
        "reports": {},
    }
    with database.engine.connect() as conn:
        for name in REPORTS:
            figures = {}
            for label, since in (("24h", timedelta(hours=24)), ("7d", timedelta(days=7))):
                window = resolve_window(conn, now=now, since=since)
                figures[label] = timed(lambda w=window, n=name: run_report(conn, n, w), args.repeat)
            figures["p95_ratio_7d_vs_24h"] = round(
                figures["7d"]["p95_ms"] / max(figures["24h"]["p95_ms"], 0.01), 2
            )
            figures["meets_p95_500ms"] = figures["7d"]["p95_ms"] < 500
            result["reports"][name] = figures
        pages = []
        for query in AUDIT_FILTERS:
            flt = parse_audit_filter(query)
            pages.append(timed(lambda f=flt: audit_page(conn, f, now=now, limit=100), args.repeat))
        result["audit_page"] = {
            "p50_ms": round(statistics.median(p["p50_ms"] for p in pages), 2),
            "p95_ms": max(p["p95_ms"] for p in pages),
            "filters": AUDIT_FILTERS,
        }
        result["audit_page"]["meets_p95_20ms"] = result["audit_page"]["p95_ms"] < 20
    database.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
