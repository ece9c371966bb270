"""Backfill: the legacy client's calls of the last N days into the new audit trail.

Idempotent and resumable: every row's id is derived from the legacy call's content, each
batch commits on its own, and only calls not there yet are written — a second run, or a run
after a kill, writes only what is missing. Raw keys found in legacy headers are masked (and
counted), never copied. At the end the backfill runs get their counts and outcome, and each
(resource, filter) cursor is initialised from the latest page that landed.

The pipeline: a reader thread reads and transforms the next batch while ``writers``
connections land the current one, sharded by backfill run (see ``writer``).
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from ..client.seal_key import seal_key_or_none
from .outcome import Outcome
from .reader import transformed_batches
from .transform import Call
from .writer import bucket_of, deal, run_id, write_shard

__all__ = ["BackfillSummary", "backfill"]


@dataclass
class BackfillSummary:
    """What a backfill read, wrote and left alone."""

    read: int = 0
    written: int = 0
    skipped: int = 0
    responses: int = 0
    error_events: int = 0
    keys_scrubbed: int = 0
    runs: int = 0
    cursors: int = 0
    seconds: float = 0.0
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_s"] = round(self.read / self.seconds) if self.seconds else None
        return data


def backfill(
    legacy: Engine,
    target: Engine,
    config: dict[str, Any],
    *,
    days: int,
    batch: int,
    now: datetime,
    user: str,
    dry_run: bool = False,
    writers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> BackfillSummary:
    """Copy the window's legacy calls into ``target`` for ``config`` (a row with id, base_url)."""
    started = time.perf_counter()
    summary = BackfillSummary(dry_run=dry_run)
    since = now - timedelta(days=days)
    base_path = urlsplit(config["base_url"]).path
    config_id = str(config["id"])
    runs: dict[tuple[str, str, str, str], str] = {}
    outcome = Outcome()

    seal_key = None if dry_run else seal_key_or_none()

    def land(buckets: list[int], calls: list[tuple[Call, str]]) -> int:
        with target.begin() as conn:
            return write_shard(conn, calls, config_id, buckets, user, seal_key)

    # batches in flight: the next one is dealt out while the last one still lands (a bucket's
    # advisory lock keeps the two apart where they share runs)
    in_flight: deque[tuple[list[Future[int]], int]] = deque()

    def settle() -> None:
        landing, size = in_flight.popleft()
        written = sum(future.result() for future in landing)
        summary.written += written
        summary.skipped += size - written
        if progress is not None:
            progress(size)

    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="cc-backfill-writer") as pool:
        masked = frozenset(config.get("masked_headers", ()))
        for calls in transformed_batches(legacy, since, batch, base_path, masked):
            buckets: dict[int, list[tuple[Call, str]]] = defaultdict(list)
            for call in calls:
                key = call.run_key
                run = runs.get(key) or runs.setdefault(key, run_id(config_id, key))
                buckets[bucket_of(run)].append((call, run))
                outcome.add(call, run)
            summary.read += len(calls)
            summary.keys_scrubbed += sum(c.keys_scrubbed for c in calls)
            summary.responses += sum(1 for c in calls if c.status is not None)
            summary.error_events += sum(1 for c in calls if c.error_kind)
            if dry_run:
                if progress is not None:
                    progress(len(calls))
                continue
            in_flight.append(
                ([pool.submit(land, *shard) for shard in deal(buckets, writers)], len(calls))
            )
            while len(in_flight) > 1:
                settle()
        while in_flight:
            settle()
    summary.runs = len(runs)
    if not dry_run:
        with target.begin() as conn:
            summary.cursors = outcome.write(conn, config_id)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
