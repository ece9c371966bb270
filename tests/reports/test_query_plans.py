"""Every report query reads what its window holds, not what the log holds.

One history of 60 days (600,000 requests) is built once at a fixed clock, with the
partitions of that clock. For windows of a day and of a week ending on the 1st of a month
(when the current partition holds a few hours), on the 15th and on the last millisecond of
a month, EXPLAIN (ANALYZE, BUFFERS) of each report query must show:

- rows read from the request log and from the response log at most twice the window's
  requests and responses (an index or a pruned partition, never a scan of whole months),
  and buffers at most twice the window's rows;
- the same rows and buffers (within 10%) after another month of history, outside every
  window, is added: the cost follows the window, not the size of the log.

Which plan the planner picks (a sequential scan of a partition that holds only the window's
rows is fine) is its business; what it reads is ours.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.sql.elements import TextClause

from cc_console.reports import audit_completeness, metrics, sla, throttling, validation
from cc_console.settings import Settings
from cc_console.store.audit_query import audit_page, parse_audit_filter
from cc_console.store.database import Database, open_database
from tests.clock import partitions_at
from tests.conftest import PgServer, create_database, drop_database

from .bulk import generate_history

HISTORY_END = datetime(2026, 12, 6, tzinfo=UTC)  # 2026-10-07 .. 2026-12-06
HISTORY_DAYS, HISTORY_REQUESTS = 60, 600_000
WINDOW_ENDS = {
    "1st": datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
    "15th": datetime(2026, 11, 15, 12, 0, tzinfo=UTC),
    "last-day": datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC),
}
SPANS = {"24h": timedelta(days=1), "7d": timedelta(days=7)}
# a month of history before every window: September 2026
OUTSIDE_END, OUTSIDE_DAYS, OUTSIDE_REQUESTS = datetime(2026, 10, 1, tzinfo=UTC), 30, 300_000
FAMILIES = {"request": "cc_api_request_log", "response": "cc_api_response_log"}
SLACK = 64  # rows or buffers: catalogue pages, an index's upper levels, a first heap page


def queries() -> Iterator[tuple[str, TextClause]]:
    for module in (sla, throttling, validation, audit_completeness, metrics):
        short = module.__name__.rsplit(".", 1)[1]
        for name, value in vars(module).items():
            if isinstance(value, TextClause):
                yield f"{short}.{name}", value


@dataclass(frozen=True)
class Reading:
    """What one execution read: rows per log family, and buffers in all."""

    rows: dict[str, int]
    buffers: int


def _rows_read(plan: dict[str, Any], into: dict[str, int]) -> None:
    relation = plan.get("Relation Name", "")
    for family, table in FAMILIES.items():
        if relation.startswith(table):
            per_loop = (
                plan.get("Actual Rows", 0)
                + plan.get("Rows Removed by Filter", 0)
                + plan.get("Rows Removed by Index Recheck", 0)
            )
            into[family] += int(per_loop * plan.get("Actual Loops", 1))
    for child in plan.get("Plans", []):
        _rows_read(child, into)


def measure(conn: Connection, query: TextClause, params: dict[str, Any]) -> Reading:
    found = conn.execute(
        text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.text), params
    ).scalar_one()
    plan = (found if isinstance(found, list) else json.loads(found))[0]["Plan"]
    rows = dict.fromkeys(FAMILIES, 0)
    _rows_read(plan, rows)
    return Reading(rows, plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0))


def window_rows(conn: Connection, start: datetime, end: datetime) -> dict[str, int]:
    return {
        family: int(
            conn.scalar(
                text(f"SELECT count(*) FROM {table} WHERE sent_at >= :s AND sent_at < :e"),
                {"s": start, "e": end},
            )
            or 0
        )
        for family, table in FAMILIES.items()
    }


def params_for(start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "start": start,
        "end": end,
        "now": end,
        "config": None,
        "window": metrics.WINDOW_MINUTES,
        "unanswered_kinds": audit_completeness.UNANSWERED_KINDS,
    }


def windows() -> Iterator[tuple[str, datetime, datetime]]:
    for end_name, end in WINDOW_ENDS.items():
        for span_name, span in SPANS.items():
            yield f"{span_name} to the {end_name}", end - span, end


def read_everything(conn: Connection) -> dict[tuple[str, str], tuple[Reading, dict[str, int]]]:
    readings = {}
    for label, start, end in windows():
        held = window_rows(conn, start, end)
        minutes = window_rows(conn, end - timedelta(minutes=metrics.WINDOW_MINUTES), end)
        for name, query in queries():
            # the metrics' request series has its own 15-minute window
            own = minutes if name.startswith("metrics.") else held
            readings[(label, name)] = (measure(conn, query, params_for(start, end)), own)
    return readings


def vacuum(database: Database) -> None:
    # what autovacuum does to a log that is only appended to: the visibility map lets the
    # planner read counts from the indexes alone
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


@pytest.fixture(scope="module")
def history(pg_server: PgServer, migrated_template: str) -> Iterator[Database]:
    name = f"cc_plans_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, template=migrated_template)
    database = open_database(Settings(database_url=url), migrate=False)
    with database.engine.begin() as conn:
        partitions_at(conn, HISTORY_END)
        generate_history(
            conn, now=HISTORY_END, requests=HISTORY_REQUESTS, days=HISTORY_DAYS, tag="h"
        )
    vacuum(database)
    yield database
    database.dispose()
    drop_database(pg_server, name)


def within(before: int, after: int) -> bool:
    return abs(after - before) <= max(SLACK, 0.10 * before)


def test_report_queries_read_their_window_not_the_log(history: Database) -> None:
    problems = []
    with history.engine.connect() as conn:
        before = read_everything(conn)
    for (label, name), (reading, held) in before.items():
        for family, rows in reading.rows.items():
            if rows > 2 * held[family] + SLACK:
                problems.append(
                    f"{name}, {label}: read {rows} {family} rows for {held[family]} in the window"
                )
        if reading.buffers > 2 * sum(held.values()) + SLACK:
            problems.append(
                f"{name}, {label}: read {reading.buffers} buffers for {sum(held.values())} rows"
            )

    with history.engine.begin() as conn:  # a month outside every window
        generate_history(
            conn, now=OUTSIDE_END, requests=OUTSIDE_REQUESTS, days=OUTSIDE_DAYS, tag="o"
        )
    vacuum(history)
    with history.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_api_request_log")) == (
            HISTORY_REQUESTS + OUTSIDE_REQUESTS
        )
        after = read_everything(conn)
        # the audit browser's page query, filtered by endpoint and status, keyset-paged
        flt = parse_audit_filter("endpoint:sites status:429 since:7d")
        rows, older = audit_page(conn, flt, now=WINDOW_ENDS["1st"], limit=100)
        assert len(rows) == 100 and older is not None
    for key, (reading, _) in after.items():
        first = before[key][0]
        changed = [
            f"{family} rows {first.rows[family]} -> {reading.rows[family]}"
            for family in FAMILIES
            if not within(first.rows[family], reading.rows[family])
        ]
        if not within(first.buffers, reading.buffers):
            changed.append(f"buffers {first.buffers} -> {reading.buffers}")
        if changed:
            problems.append(f"{key[1]}, {key[0]}, with a month more: {', '.join(changed)}")
    assert problems == [], "\n".join(problems)


def test_the_checks_catch_a_scan_of_whole_months(history: Database) -> None:
    """A query that ignores its window is caught by the very bound the test above applies."""
    careless = text("SELECT count(*) FROM cc_api_request_log WHERE endpoint_path <> :n")
    start, end = WINDOW_ENDS["last-day"] - SPANS["7d"], WINDOW_ENDS["last-day"]
    with history.engine.connect() as conn:
        reading = measure(conn, careless, {"n": "/nothing"})
        held = window_rows(conn, start, end)
    assert reading.rows["request"] > 2 * held["request"] + SLACK


def test_every_report_query_is_found() -> None:
    """A guard against a refactor that hides the queries from the checks above."""
    names = [name for name, _ in queries()]
    assert len(names) >= 12 and any(n.startswith("metrics.") for n in names), names
