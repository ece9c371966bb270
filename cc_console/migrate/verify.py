"""Parity between the legacy store and the new audit trail over a window.

Counts per day and endpoint side by side (legacy duplicates counted once, as the backfill
lands them), and a sample of payloads compared as normalised JSON (or raw text), listing
every mismatch with the legacy id and the new id.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, text

from .reader import legacy_batches
from .transform import content_id, transform

__all__ = ["verify"]

_NEW_COUNTS = text(
    """
    SELECT CAST(q.sent_at AT TIME ZONE 'UTC' AS date) AS day, q.endpoint_path, count(*) AS n
    FROM cc_sync_run b JOIN cc_api_request_log q ON q.run_id = b.id AND q.sent_at >= :since
    WHERE b.config_id = :config AND b.trigger = 'backfill'
    GROUP BY 1, 2
    """
)

_NEW_BODIES = text(
    """
    SELECT q.id, s.body, s.body_text, s.status_code FROM cc_api_request_log q
    LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at
    WHERE q.id = ANY(CAST(:ids AS uuid[])) AND q.sent_at >= :since
    """
)


def _digest(body: Any, body_text: str | None) -> str | None:
    if body is not None:
        normal = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(normal.encode()).hexdigest()
    if body_text is not None:
        return hashlib.sha256(body_text.encode()).hexdigest()
    return None


def _legacy_digest(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return _digest(json.loads(raw), None)
    except ValueError:
        return _digest(None, raw)


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
    legacy_counts: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    digests: dict[str, tuple[int, str | None]] = {}
    for rows in legacy_batches(legacy, since, batch):
        for row in rows:
            new_id = content_id(row)
            if new_id in seen:
                continue
            seen.add(new_id)
            call = transform(row, base_path=base_path)
            legacy_counts[(call.day, call.endpoint)] += 1
            digests[new_id] = (row.id, _legacy_digest(row.response_body))
    step = max(1, len(digests) // max(sample, 1))
    sampled = list(digests.items())[::step][:sample]
    params = {"config": config["id"], "since": since}
    with target.connect() as conn:
        new_counts = {(str(r.day), r.endpoint_path): r.n for r in conn.execute(_NEW_COUNTS, params)}
        found = {
            str(r.id): r
            for r in conn.execute(_NEW_BODIES, {**params, "ids": [new_id for new_id, _ in sampled]})
        }
    days_rows = []
    mismatches: list[dict[str, Any]] = []
    for key in sorted(set(legacy_counts) | set(new_counts)):
        old, new = legacy_counts.get(key, 0), new_counts.get(key, 0)
        days_rows.append({"day": key[0], "endpoint": key[1], "legacy": old, "new": new})
        if old != new:
            mismatches.append(
                {"kind": "count", "day": key[0], "endpoint": key[1], "legacy": old, "new": new}
            )
    for new_id, (legacy_id, expected) in sampled:
        row = found.get(new_id)
        actual = None if row is None else _digest(row.body, row.body_text)
        if row is None or actual != expected:
            mismatches.append(
                {"kind": "payload" if row else "missing", "legacy_id": legacy_id, "new_id": new_id}
            )
    return {
        "window": {"start": since.isoformat(), "end": now.isoformat()},
        "legacy_calls": len(seen),
        "new_requests": sum(new_counts.values()),
        "sampled": len(sampled),
        "days": days_rows,
        "mismatches": mismatches,
        "parity": not mismatches,
    }
