"""Backfill throughput: legacy rows/s from a generated 50,000-call history (target ≥ 5,000).

Creates ``cc_bench_legacy`` (the legacy store, filled by ``db/legacy/generate.py``) and
``cc_bench_cutover`` (the new schema) on the embedded PostgreSQL (or CC_DATABASE_URL's
server), then runs, in one process, (a) a dry run — read and transform only, the baseline —
and (b) the real backfill. Prints one JSON line.

    python bench/backfill_throughput.py [--calls 50000] [--batch 5000] [--writers 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlalchemy import text  # noqa: E402
from sync_throughput import fresh_database  # noqa: E402

from cc_console.engine.gc_tuning import tune_gc  # noqa: E402
from cc_console.migrate import backfill, legacy_engine  # noqa: E402
from cc_console.settings import Settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--writers", type=int, default=2)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("generate", ROOT / "db/legacy/generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    legacy_url = fresh_database("cc_bench_legacy").replace("+psycopg", "")
    generate.generate(legacy_url, calls=args.calls, days=90, seed=7)
    database = open_database(
        Settings(database_url=fresh_database("cc_bench_cutover")), notice=lambda _: None
    )
    with database.engine.begin() as conn:
        config_id = conn.execute(
            text(
                "INSERT INTO cc_api_client_config (name, base_url, secret_ref, created_by, updated_by)"
                " VALUES ('bench', :b, 'env:CC_BENCH_KEY', 'bench', 'bench') RETURNING id"
            ),
            {"b": generate.BASE},
        ).scalar_one()
    config = {"id": config_id, "base_url": generate.BASE}
    tune_gc()  # as `cc-console migrate backfill` does
    legacy = legacy_engine(legacy_url)
    now = datetime.now(UTC)
    options = {"days": 90, "batch": args.batch, "now": now, "user": "bench"}
    dry = backfill(legacy, database.engine, config, dry_run=True, **options)
    real = backfill(legacy, database.engine, config, writers=args.writers, **options)
    legacy.dispose()
    database.dispose()
    print(
        json.dumps(
            {
                "bench": "backfill_throughput",
                "calls": args.calls,
                "batch": args.batch,
                "writers": args.writers,
                "read_transform_rows_per_s": dry.as_dict()["rows_per_s"],
                "backfill_rows_per_s": real.as_dict()["rows_per_s"],
                "backfill_vs_read_transform": round(
                    real.read / real.seconds / (dry.read / dry.seconds), 3
                ),
                "target_rows_per_s": 5000,
                "written": real.written,
                "skipped": real.skipped,
                "keys_scrubbed": real.keys_scrubbed,
            }
        )
    )


if __name__ == "__main__":
    main()
