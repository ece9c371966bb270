"""What the backfill's runs and cursors end as, tallied while the calls stream past.

Every backfill reads the whole window, so the tallies cover every call a run owns — the
ones written now and the ones an earlier (or killed) backfill already wrote — without
reading the bodies back from PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text

from .transform import Call

__all__ = ["Outcome"]

_FINISH_RUNS = text(
    """
    UPDATE cc_sync_run r SET requests = x.requests, http_429_count = x.throttled,
        error_count = x.failed, pages = x.pages, records = x.records, started_at = x.first,
        heartbeat_at = x.last, finished_at = x.last,
        status = CASE WHEN x.pages = 0 THEN 'failed'
                      WHEN x.failed > 0 THEN 'partial' ELSE 'succeeded' END
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(run_id uuid, requests int,
         throttled int, failed int, pages int, records bigint, first timestamptz,
         last timestamptz)
    WHERE r.id = x.run_id AND r.config_id = :config AND r.trigger = 'backfill'
    """
)

_CURSOR = text(
    """
    INSERT INTO cc_pagination_state (config_id, resource_path, filter_hash, filter_text,
        next_skip, page_size, odata_count, records_landed, status, last_sync_at)
    VALUES (:config, :path, :fh, :filter, :skip, :top, :count, :skip, :status, :at)
    ON CONFLICT (config_id, resource_path, filter_hash) DO UPDATE SET
        next_skip = EXCLUDED.next_skip, odata_count = EXCLUDED.odata_count,
        status = EXCLUDED.status, last_sync_at = EXCLUDED.last_sync_at, updated_at = now()
    WHERE cc_pagination_state.last_sync_at IS NULL
       OR cc_pagination_state.last_sync_at < EXCLUDED.last_sync_at
    """
)


@dataclass(slots=True)
class _Run:
    first: datetime
    last: datetime
    requests: int = 0
    throttled: int = 0
    failed: int = 0
    pages: int = 0
    records: int = 0


class Outcome:
    """Per-run counts and the latest landed page per (resource, filter)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self.runs: dict[str, _Run] = {}
        self._latest: dict[tuple[str, str], Call] = {}

    def add(self, call: Call, run: str) -> None:
        if call.id in self._seen:  # a legacy duplicate: landed once, counted once
            return
        self._seen.add(call.id)
        tally = self.runs.get(run)
        if tally is None:
            tally = self.runs[run] = _Run(call.sent_at, call.sent_at)
        tally.requests += 1
        tally.first = min(tally.first, call.sent_at)
        tally.last = max(tally.last, call.sent_at)
        if call.status == 429:
            tally.throttled += 1
        if call.parse_ok:
            tally.pages += 1
            tally.records += call.items
            key = (call.endpoint, call.filter_hash)
            latest = self._latest.get(key)
            if latest is None or call.sent_at >= latest.sent_at:  # id order breaks ties
                self._latest[key] = call
        else:
            tally.failed += 1

    def write(self, conn: Connection, config_id: str) -> int:
        """Run counts and outcomes, then a cursor per (resource, filter); returns cursors."""
        rows = [
            {
                "run_id": run,
                "requests": t.requests,
                "throttled": t.throttled,
                "failed": t.failed,
                "pages": t.pages,
                "records": t.records,
                "first": t.first.isoformat(),
                "last": t.last.isoformat(),
            }
            for run, t in self.runs.items()
        ]
        conn.execute(_FINISH_RUNS, {"rows": orjson.dumps(rows).decode(), "config": config_id})
        for (endpoint, fh), page in self._latest.items():
            conn.execute(_CURSOR, {"config": config_id, **_cursor(page, endpoint, fh)})
        return len(self._latest)


def _cursor(page: Call, endpoint: str, fh: str) -> dict[str, Any]:
    """Where the engine continues after ``page``: the next ``$skip``, or done."""
    query = page.params
    top = min(max(int(query.get("$top", "100") or 100), 1), 1000)
    skip = int(query.get("$skip", "0") or 0) + page.items
    count = page.odata_count
    done = (count is not None and skip >= count) or page.items < top
    return {
        "path": endpoint,
        "fh": fh,
        "filter": query.get("$filter"),
        "skip": 0 if done else skip,
        "top": top,
        "count": count,
        "status": "completed" if done else "partial",
        "at": page.sent_at,
    }
