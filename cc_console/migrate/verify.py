"""Parity between the legacy store and the new audit trail over a window.

Two sources are checked, each per day and endpoint side by side, each with a sample of
payloads compared as normalised JSON (or raw text), every mismatch listed with the legacy
id and the new id:

- ``backfill``: the legacy client's own calls (duplicates counted once, as the backfill
  lands them) against the backfill runs;
- ``dual_write``: the rows the engine mirrored (``client_name = cc-console/<config>``)
  against the requests of the runs that mirrored, matched by time and URL.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
from sqlalchemy import Engine, text

from .mirror import mirror_client_name
from .reader import legacy_batches
from .transform import as_utc, content_id, endpoint_of

__all__ = ["verify"]

_BACKFILLED_COUNTS = text(
    """
    SELECT CAST(q.sent_at AT TIME ZONE 'UTC' AS date) AS day, q.endpoint_path, count(*) AS n
    FROM cc_sync_run b JOIN cc_api_request_log q ON q.run_id = b.id AND q.sent_at >= :since
    WHERE b.config_id = :config AND b.trigger = 'backfill'
    GROUP BY 1, 2
    """
)

_MIRRORED_COUNTS = text(
    """
    SELECT CAST(q.sent_at AT TIME ZONE 'UTC' AS date) AS day, q.endpoint_path, count(*) AS n
    FROM cc_sync_run r JOIN cc_api_request_log q ON q.run_id = r.id AND q.sent_at >= :since
    WHERE r.config_id = :config AND r.legacy_writes IS NOT NULL
    GROUP BY 1, 2
    """
)

_BODIES_BY_ID = text(
    """
    SELECT CAST(q.id AS text) AS key, q.id, s.body, s.body_text FROM cc_api_request_log q
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.id = ANY(CAST(:keys AS uuid[])) AND q.sent_at >= :since
    """
)

_BODIES_BY_TIME_AND_URL = text(
    """
    SELECT k.key, q.id, s.body, s.body_text
    FROM unnest(CAST(:keys AS text[]), CAST(:times AS timestamptz[]), CAST(:urls AS text[]))
         AS k(key, sent_at, url)
    JOIN cc_api_request_log q ON q.sent_at = k.sent_at AND q.url = k.url
    JOIN cc_sync_run r ON r.id = q.run_id AND r.config_id = :config
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    """
)

_LEGACY_BODIES = text("SELECT id, response_body FROM api_call_log WHERE id = ANY(:ids)")

_MIRRORED_ROWS = text(
    """
    SELECT id, called_at, url FROM api_call_log
    WHERE client_name = :client AND called_at >= :since ORDER BY id
    """
)


def _digest(body: Any, body_text: str | None) -> str | None:
    if body is not None:
        return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if body_text:
        return hashlib.sha256(body_text.encode()).hexdigest()
    return None  # no body and an empty body are the same payload


def _legacy_digest(raw: str | None) -> str | None:
    """As the backfill decides: JSON by orjson's reading, else the text as it is."""
    if not raw:
        return None
    try:
        return _digest(orjson.loads(raw), None)
    except orjson.JSONDecodeError:
        return _digest(None, raw)


class _Side:
    """One source's legacy counts and payload keys, compared with the new tables."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: Counter[tuple[str, str]] = Counter()
        self.legacy_ids: dict[str, int] = {}  # payload key -> legacy id (first copy)
        self.lookup: dict[str, tuple[datetime, str]] = {}  # dual-write: key -> (time, URL)

    def compare(
        self,
        new_counts: dict[tuple[str, str], int],
        sample: int,
        legacy_bodies: Callable[[list[int]], dict[int, str | None]],
        new_bodies: Callable[[list[str]], Any],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        """(day rows, mismatches, payloads sampled)."""
        days, mismatches = [], []
        for day, endpoint in sorted(set(self.counts) | set(new_counts)):
            old, new = self.counts.get((day, endpoint), 0), new_counts.get((day, endpoint), 0)
            line = {
                "source": self.name,
                "day": day,
                "endpoint": endpoint,
                "legacy": old,
                "new": new,
            }
            days.append(line)
            if old != new:
                mismatches.append({"kind": "count", **line})
        step = max(1, len(self.legacy_ids) // max(sample, 1))
        sampled = list(self.legacy_ids.items())[::step][:sample]
        if not sampled:
            return days, mismatches, 0
        expected = legacy_bodies([legacy_id for _, legacy_id in sampled])
        found = {row.key: row for row in new_bodies([key for key, _ in sampled])}
        for key, legacy_id in sampled:
            row = found.get(key)
            actual = None if row is None else _digest(row.body, row.body_text)
            if row is None or actual != _legacy_digest(expected.get(legacy_id)):
                mismatches.append(
                    {
                        "source": self.name,
                        "kind": "payload" if row else "missing",
                        "legacy_id": legacy_id,
                        "new_id": str(row.id) if row else None,
                    }
                )
        return days, mismatches, len(sampled)


def verify(
    legacy: Engine,
    target: Engine,
    config: dict[str, Any],
    *,
    days: int,
    sample: int,
    now: datetime,
    batch: int = 5000,
) -> dict[str, Any]:
    """The parity report; ``parity`` is true only when nothing differs."""
    since = now - timedelta(days=days)
    base_path = urlsplit(config["base_url"]).path
    backfilled, mirrored = _Side("backfill"), _Side("dual_write")
    for rows in legacy_batches(legacy, since, batch):
        for row in rows:
            new_id = content_id(row)
            if new_id not in backfilled.legacy_ids:
                backfilled.legacy_ids[new_id] = row.id
                day = as_utc(row.called_at).date().isoformat()
                backfilled.counts[(day, endpoint_of(row.url, base_path))] += 1
    window = {"since": since.replace(tzinfo=None)}
    with legacy.connect() as conn:
        client = mirror_client_name(config["name"])
        for row in conn.execute(_MIRRORED_ROWS, {**window, "client": client}):
            sent_at = as_utc(row.called_at)
            mirrored.counts[(sent_at.date().isoformat(), endpoint_of(row.url, base_path))] += 1
            mirrored.legacy_ids[str(row.id)] = row.id
            mirrored.lookup[str(row.id)] = (sent_at, row.url)

        def legacy_bodies(ids: list[int]) -> dict[int, str | None]:
            return {r.id: r.response_body for r in conn.execute(_LEGACY_BODIES, {"ids": ids})}

        params = {"config": config["id"], "since": since}
        with target.connect() as new:

            def counts(query: Any) -> dict[tuple[str, str], int]:
                return {(str(r.day), r.endpoint_path): r.n for r in new.execute(query, params)}

            def by_id(keys: list[str]) -> Any:
                return new.execute(_BODIES_BY_ID, {**params, "keys": keys})

            def by_time_and_url(keys: list[str]) -> Any:
                found = [mirrored.lookup[key] for key in keys]
                return new.execute(
                    _BODIES_BY_TIME_AND_URL,
                    {
                        "config": config["id"],
                        "keys": keys,
                        "times": [at for at, _ in found],
                        "urls": [url for _, url in found],
                    },
                )

            b_days, b_mismatches, b_sampled = backfilled.compare(
                counts(_BACKFILLED_COUNTS), sample, legacy_bodies, by_id
            )
            m_days, m_mismatches, m_sampled = mirrored.compare(
                counts(_MIRRORED_COUNTS), sample, legacy_bodies, by_time_and_url
            )
    mismatches = b_mismatches + m_mismatches
    return {
        "window": {"start": since.isoformat(), "end": now.isoformat()},
        "legacy_calls": len(backfilled.legacy_ids),
        "new_requests": sum(r["new"] for r in b_days),
        "dual_written": {
            "legacy_rows": len(mirrored.legacy_ids),
            "new_requests": sum(r["new"] for r in m_days),
        },
        "sampled": b_sampled + m_sampled,
        "days": b_days + m_days,
        "mismatches": mismatches,
        "parity": not mismatches,
    }
