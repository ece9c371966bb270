"""Generate a realistic legacy history into a database that has ``schema.sql``.

    python db/legacy/generate.py postgresql://…/legacy [--calls 50000] [--days 90] [--seed 7]

Paging sequences of several resources and filters ($top=100&$skip=…, the $filter written
raw or percent-encoded), day by day; 429s and 5xx with HTML bodies, truncated bodies, calls
without a response, duplicated rows, and — in the older half — the raw API key in the
request headers. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

SCHEMA = Path(__file__).with_name("schema.sql")
BASE = "https://tenant.clinicalconductor.example/CCSWeb/api/v1"
RAW_KEY = "LEGACY-RAW-KEY-0f9e8d7c-not-a-real-secret"  # what the old client wrote, unmasked
SEQUENCES = [  # resource, $filter (None: all), records on the server
    ("studies", None, 450),
    ("patients", "status eq 'Active'", 1200),
    ("subjects", None, 900),
    ("sites", "name eq 'O''Brien Clinic'", 150),
    ("patient-visits", "visitDate ge 2026-01-01T00:00:00Z", 2000),
]
COLUMNS = (
    "called_at",
    "client_name",
    "method",
    "url",
    "request_headers",
    "response_status",
    "response_headers",
    "response_body",
    "duration_ms",
)


def _url(resource: str, flt: str | None, skip: int, encoded: bool) -> str:
    query = f"$top=100&$skip={skip}&$orderby=id"
    if flt is not None:
        query += "&$filter=" + (quote(flt, safe="") if encoded else flt)
    return f"{BASE}/{resource}/odata?{query}"


def _page(resource: str, skip: int, total: int) -> dict[str, Any]:
    items = [
        {"id": n, "name": f"{resource} {n}", "status": "Active"}
        for n in range(skip + 1, min(skip + 100, total) + 1)
    ]
    return {"items": items, "count": total, "nextPageLink": None}


def rows(calls: int, days: int, seed: int, now: datetime) -> list[tuple[Any, ...]]:
    """The history, oldest first."""
    rng = random.Random(seed)
    start = (now - timedelta(days=days)).replace(tzinfo=None)
    step = timedelta(days=days) / calls
    out: list[tuple[Any, ...]] = []
    at = start
    position = {name: 0 for name, _, _ in SEQUENCES}
    while len(out) < calls:
        resource, flt, total = SEQUENCES[rng.randrange(len(SEQUENCES))]
        skip = position[resource]
        at += step
        old = at < start + timedelta(days=days / 2)
        key_header = {"X-ApiKey": RAW_KEY} if old else {"X-ApiKey": "***"}
        headers = json.dumps({"Accept": "application/json", **key_header})
        url = _url(resource, flt, skip, encoded=rng.random() < 0.5)
        roll = rng.random()
        status: int | None = 200
        body: str | None = json.dumps(_page(resource, skip, total))
        advance = True
        if roll < 0.04:
            status, body, advance = 429, "Too Many Requests", False
        elif roll < 0.06:
            status, body, advance = (
                503,
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
                False,
            )
        elif roll < 0.07:
            body, advance = body[: len(body) // 2], False  # truncated: logged as 200 anyway
        elif roll < 0.075:
            status, body, advance = None, None, False  # the call died: no response recorded
        response_headers = (
            None
            if status is None
            else json.dumps(
                {
                    "Content-Type": "application/json",
                    "X-RateLimit-Remaining": "0" if status == 429 else "7",
                }
            )
        )
        row = (
            at,
            "feature-api-client",
            "GET",
            url,
            headers,
            status,
            response_headers,
            body,
            rng.randint(40, 900) if status else None,
        )
        out.append(row)
        if rng.random() < 0.01 and len(out) < calls:
            out.append(row)  # the client's retry loop logged it twice
        if advance:
            position[resource] = 0 if skip + 100 >= total else skip + 100
    return out[:calls]


def generate(
    url: str, calls: int = 50_000, days: int = 90, seed: int = 7, now: datetime | None = None
) -> int:
    """Create the table (if needed) and append ``calls`` rows; returns how many."""
    history = rows(calls, days, seed, now or datetime.now(UTC))
    with psycopg.connect(url) as conn:
        conn.execute(SCHEMA.read_text())
        with conn.cursor().copy(f"COPY api_call_log ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in history:
                copy.write_row(row)
    return len(history)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(generate(args.url, args.calls, args.days, args.seed))
