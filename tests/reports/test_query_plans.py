"""At a million request rows, every report query reads the log through its indexes.

EXPLAIN ANALYZE of each query over a 7-day window of 30 days of history: no sequential
scan reads rows of a request-log or response-log partition, except the one documented
below. (Sequential scans of small tables — runs, templates, configs — are fine.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

from cc_console.reports import audit_completeness, sla, throttling, validation
from cc_console.reports.metrics import _REQUESTS as METRICS_REQUESTS
from cc_console.store.audit_query import audit_page, parse_audit_filter

from .bulk import generate_history

LOGS = ("cc_api_request_log", "cc_api_response_log")
# Counting a window's responses reads that month's partition of the response log: no
# index leads with sent_at there (a BRIN on sent_at would remove this; noted in issue 7).
ALLOWED = {("audit_completeness", "_RESPONSES")}


def queries(module: ModuleType) -> list[tuple[str, TextClause]]:
    return [(name, value) for name, value in vars(module).items() if isinstance(value, TextClause)]


def seq_scans_of_the_log(plan: dict[str, Any]) -> list[str]:
    found = []
    relation = plan.get("Relation Name", "")
    # rows it actually read (an empty future partition costs nothing and reads nothing)
    read = plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
    if plan["Node Type"] == "Seq Scan" and read > 0 and relation.startswith(LOGS):
        found.append(relation)
    for child in plan.get("Plans", []):
        found += seq_scans_of_the_log(child)
    return found


def test_report_queries_use_the_indexes_at_a_million_rows(database) -> None:
    now = datetime.now(UTC)
    with database.engine.begin() as conn:
        generate_history(conn, now=now, requests=1_000_000, days=30)
    # what autovacuum does to a log that is only appended to: the visibility map lets the
    # planner read counts from the indexes alone
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    params = {"start": now - timedelta(days=7), "end": now, "config": None, "window": 15,
              "unanswered_kinds": audit_completeness.UNANSWERED_KINDS}
    offenders = []
    with database.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_api_request_log")) == 1_000_000
        for module in (sla, throttling, validation, audit_completeness):
            for name, query in queries(module):
                plan = conn.execute(
                    text("EXPLAIN (ANALYZE, FORMAT JSON) " + query.text), params
                ).scalar_one()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                scans = seq_scans_of_the_log(plan[0]["Plan"])
                short = module.__name__.rsplit(".", 1)[1]
                if scans and (short, name) not in ALLOWED:
                    offenders.append(f"{short}.{name}: {sorted(set(scans))}")
        plan = conn.execute(
            text("EXPLAIN (ANALYZE, FORMAT JSON) " + METRICS_REQUESTS.text), params
        ).scalar_one()
        if seq_scans_of_the_log(plan[0]["Plan"]):
            offenders.append("metrics._REQUESTS")
        # the audit browser's page query, filtered by endpoint and status, keyset-paged
        flt = parse_audit_filter("endpoint:sites status:429 since:7d")
        rows, after = audit_page(conn, flt, now=now, limit=100)
        assert len(rows) == 100 and after is not None
    assert offenders == [], "\n".join(offenders)
