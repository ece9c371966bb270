"""Monthly partitions of the audit logs: create months ahead, drop months past retention.

Partitions are named ``<table>_pYYYY_MM`` and cover one UTC calendar month. A request and
its response share a month (the response is partitioned on its request's ``sent_at``), so a
month is dropped as one unit: rows that point into it first (schema validations deleted,
error-event and Silver lineage links cleared), then the response partition, then the request
partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, text

__all__ = [
    "MaintenancePlan",
    "apply_plan",
    "ensure_default_window",
    "existing_months",
    "plan_maintenance",
]

REQUEST, RESPONSE = "cc_api_request_log", "cc_api_response_log"
PARTITION_SUFFIX = re.compile(r"_p(\d{4})_(\d{2})$")
DEFAULT_RETENTION_DAYS = 90
DEFAULT_MONTHS_AHEAD = 3
PARTITION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('cc-console:partitions'))"


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def add_months(first: date, months: int) -> date:
    """The first day of the month ``months`` after ``first``'s month."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    """``cc_api_request_log_p2026_11`` for November 2026."""
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def existing_months(conn: Connection, table: str = REQUEST) -> list[date]:
    """Months that have their own partition of ``table``, oldest first."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        ),
        {"parent": table},
    ).scalars()
    months = []
    for name in rows:
        match = PARTITION_SUFFIX.search(name)
        if match:
            months.append(date(int(match[1]), int(match[2]), 1))
    return sorted(months)


def _create_month(conn: Connection, month: date) -> None:
    lower, upper = month.isoformat(), add_months(month, 1).isoformat()
    for table in (REQUEST, RESPONSE):
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {partition_name(table, month)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lower} 00:00:00+00') TO ('{upper} 00:00:00+00')"
            )
        )


def _drop_month(conn: Connection, month: date) -> None:
    lower, upper = month.isoformat(), add_months(month, 1).isoformat()
    bounds = {"lo": f"{lower} 00:00:00+00", "hi": f"{upper} 00:00:00+00"}
    conn.execute(
        text(
            "DELETE FROM cc_schema_validation WHERE response_sent_at >= CAST(:lo AS timestamptz) "
            "AND response_sent_at < CAST(:hi AS timestamptz)"
        ),
        bounds,
    )
    conn.execute(
        text(
            "UPDATE cc_silver_record SET last_response_id = NULL, last_response_sent_at = NULL "
            "WHERE last_response_sent_at >= CAST(:lo AS timestamptz) "
            "AND last_response_sent_at < CAST(:hi AS timestamptz)"
        ),
        bounds,
    )
    conn.execute(
        text(
            "UPDATE cc_error_event SET response_id = NULL, response_sent_at = NULL "
            "WHERE response_sent_at >= CAST(:lo AS timestamptz) "
            "AND response_sent_at < CAST(:hi AS timestamptz)"
        ),
        bounds,
    )
    conn.execute(
        text(
            "UPDATE cc_error_event SET request_id = NULL, request_sent_at = NULL "
            "WHERE request_sent_at >= CAST(:lo AS timestamptz) "
            "AND request_sent_at < CAST(:hi AS timestamptz)"
        ),
        bounds,
    )
    for table in (RESPONSE, REQUEST):
        # detaching checks that no row still points into the month; only then can it go
        name = partition_name(table, month)
        conn.execute(text(f"ALTER TABLE {table} DETACH PARTITION {name}"))
        conn.execute(text(f"DROP TABLE {name}"))


@dataclass
class MaintenancePlan:
    """What ``db maintain`` will do (or did)."""

    create: list[date] = field(default_factory=list)
    drop: list[date] = field(default_factory=list)
    blocked: dict[date, int] = field(default_factory=dict)
    cutoff: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "create": [m.strftime("%Y-%m") for m in self.create],
            "drop": [m.strftime("%Y-%m") for m in self.drop],
            "blocked": {m.strftime("%Y-%m"): rows for m, rows in self.blocked.items()},
            "retention_cutoff": self.cutoff.isoformat() if self.cutoff else None,
        }


def plan_maintenance(
    conn: Connection,
    *,
    now: datetime | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    months_ahead: int = DEFAULT_MONTHS_AHEAD,
) -> MaintenancePlan:
    """Months to create (from the retention cutoff through ``months_ahead``) and to drop."""
    # concurrent first uses of a database would otherwise deadlock creating the same months
    conn.execute(text(PARTITION_LOCK))
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=retention_days)
    have = set(existing_months(conn))
    first_kept = month_start(cutoff.date())
    last = add_months(month_start(now.date()), months_ahead)
    wanted = []
    month = first_kept
    while month <= last:
        wanted.append(month)
        month = add_months(month, 1)
    # a month is dropped only when all of it is older than the cutoff
    expired = [m for m in sorted(have) if add_months(m, 1) <= month_start(cutoff.date())]
    plan = MaintenancePlan(drop=expired, cutoff=cutoff)
    for month in (m for m in wanted if m not in have):
        stranded = _rows_in_default(conn, month)
        if stranded:
            plan.blocked[month] = stranded
        else:
            plan.create.append(month)
    return plan


def _rows_in_default(conn: Connection, month: date) -> int:
    """Rows of ``month`` that landed in the default partition (they block creating it)."""
    bounds = {
        "lo": f"{month.isoformat()} 00:00:00+00",
        "hi": f"{add_months(month, 1).isoformat()} 00:00:00+00",
    }
    count = conn.scalar(
        text(
            f"SELECT count(*) FROM {REQUEST}_default WHERE sent_at >= CAST(:lo AS timestamptz)"
            " AND sent_at < CAST(:hi AS timestamptz)"
        ),
        bounds,
    )
    return int(count or 0)


def apply_plan(conn: Connection, plan: MaintenancePlan) -> None:
    """Carry out ``plan`` inside the caller's transaction."""
    for month in plan.drop:
        _drop_month(conn, month)
    for month in plan.create:
        _create_month(conn, month)


def ensure_default_window(conn: Connection, *, now: datetime | None = None) -> list[date]:
    """Create any missing month in the default window; never drops anything."""
    plan = plan_maintenance(conn, now=now)
    plan.drop = []
    apply_plan(conn, plan)
    return plan.create
