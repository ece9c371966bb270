"""Monthly partitions of the audit logs: create months ahead, drop months past retention.

Partitions are named ``<table>_pYYYY_MM`` and cover one UTC calendar month. A request and
its response share a month (the response is partitioned on its request's ``sent_at``), so a
month is dropped as one unit: rows that point into it first (schema validations deleted,
error-event and Silver lineage links cleared), then the response partition, then the request
partition.

The first row of a month whose partition does not exist yet lands in the DEFAULT partition
(nothing is refused); the next maintenance creates that month and moves its rows, with what
points at them, out of DEFAULT in the same transaction. Writers of other months never wait;
writers into DEFAULT wait for the move (an EXCLUSIVE lock on the DEFAULT partitions).
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


def _bounds(month: date) -> dict[str, str]:
    return {
        "lo": f"{month.isoformat()} 00:00:00+00",
        "hi": f"{add_months(month, 1).isoformat()} 00:00:00+00",
    }


def _create_month(conn: Connection, month: date) -> None:
    lower, upper = month.isoformat(), add_months(month, 1).isoformat()
    for table in (REQUEST, RESPONSE):
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {partition_name(table, month)} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lower} 00:00:00+00') TO ('{upper} 00:00:00+00')"
            )
        )


# Rows that point into the logs, by foreign key (tests/store/test_partitions.py checks that
# this is every such key): a link that may be NULL is cleared and restored, a row that must
# point somewhere (a validation) is set aside and put back.
_IN_MONTH = "{col} >= CAST(:lo AS timestamptz) AND {col} < CAST(:hi AS timestamptz)"
_SET_ASIDE = [
    # (temporary table, what it keeps, how the link is cleared)
    (
        "cc_moving_validation",
        f"SELECT * FROM cc_schema_validation WHERE {_IN_MONTH.format(col='response_sent_at')}",
        "DELETE FROM cc_schema_validation v USING cc_moving_validation m WHERE v.id = m.id",
    ),
    (
        "cc_moving_event_request",
        "SELECT id, request_id, request_sent_at FROM cc_error_event"
        f" WHERE {_IN_MONTH.format(col='request_sent_at')}",
        "UPDATE cc_error_event e SET request_id = NULL, request_sent_at = NULL"
        " FROM cc_moving_event_request m WHERE e.id = m.id",
    ),
    (
        "cc_moving_event_response",
        "SELECT id, response_id, response_sent_at FROM cc_error_event"
        f" WHERE {_IN_MONTH.format(col='response_sent_at')}",
        "UPDATE cc_error_event e SET response_id = NULL, response_sent_at = NULL"
        " FROM cc_moving_event_response m WHERE e.id = m.id",
    ),
    (
        "cc_moving_silver",
        "SELECT config_id, resource_path, record_key, last_response_id, last_response_sent_at"
        f" FROM cc_silver_record WHERE {_IN_MONTH.format(col='last_response_sent_at')}",
        "UPDATE cc_silver_record r SET last_response_id = NULL, last_response_sent_at = NULL"
        " FROM cc_moving_silver m WHERE (r.config_id, r.resource_path, r.record_key)"
        " = (m.config_id, m.resource_path, m.record_key)",
    ),
    (
        "cc_moving_history",
        "SELECT id, response_id, response_sent_at FROM cc_silver_history"
        f" WHERE {_IN_MONTH.format(col='response_sent_at')}",
        "UPDATE cc_silver_history h SET response_id = NULL, response_sent_at = NULL"
        " FROM cc_moving_history m WHERE h.id = m.id",
    ),
    (
        "cc_moving_history_replaced",
        "SELECT id, replaced_by_response_id, replaced_by_response_sent_at FROM cc_silver_history"
        f" WHERE {_IN_MONTH.format(col='replaced_by_response_sent_at')}",
        "UPDATE cc_silver_history h SET replaced_by_response_id = NULL,"
        " replaced_by_response_sent_at = NULL FROM cc_moving_history_replaced m WHERE h.id = m.id",
    ),
]
_PUT_BACK = [
    "INSERT INTO cc_schema_validation SELECT * FROM cc_moving_validation",
    "UPDATE cc_error_event e SET request_id = m.request_id, request_sent_at = m.request_sent_at"
    " FROM cc_moving_event_request m WHERE e.id = m.id",
    "UPDATE cc_error_event e SET response_id = m.response_id,"
    " response_sent_at = m.response_sent_at FROM cc_moving_event_response m WHERE e.id = m.id",
    "UPDATE cc_silver_record r SET last_response_id = m.last_response_id,"
    " last_response_sent_at = m.last_response_sent_at FROM cc_moving_silver m"
    " WHERE (r.config_id, r.resource_path, r.record_key)"
    " = (m.config_id, m.resource_path, m.record_key)",
    "UPDATE cc_silver_history h SET response_id = m.response_id,"
    " response_sent_at = m.response_sent_at FROM cc_moving_history m WHERE h.id = m.id",
    "UPDATE cc_silver_history h SET replaced_by_response_id = m.replaced_by_response_id,"
    " replaced_by_response_sent_at = m.replaced_by_response_sent_at"
    " FROM cc_moving_history_replaced m WHERE h.id = m.id",
]


def _unlink_month(conn: Connection, month: date) -> None:
    """Set aside (in temporary tables) and clear every reference into ``month``'s logs."""
    for name, keep, _ in _SET_ASIDE:
        conn.execute(text(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {keep}"), _bounds(month))
    for _, _, clear in _SET_ASIDE:
        conn.execute(text(clear))


def _create_month_from_default(conn: Connection, month: date) -> int:
    """Create ``month`` when some of its rows sit in the DEFAULT partitions: move them.

    PostgreSQL refuses to create a partition while the default one holds rows of its range,
    and the foreign keys that point at those rows are not deferrable. So, in the caller's
    transaction: set the month's rows (and what points at them) aside, take them out of
    DEFAULT, create the month, put everything back. Returns the request rows moved.
    """
    bounds = _bounds(month)
    in_month = _IN_MONTH.format(col="sent_at")
    for table in (REQUEST, RESPONSE):
        conn.execute(
            text(
                f"CREATE TEMP TABLE cc_moving_{table} ON COMMIT DROP AS"
                f" SELECT * FROM {table}_default WHERE {in_month}"
            ),
            bounds,
        )
    _unlink_month(conn, month)
    for table in (RESPONSE, REQUEST):
        conn.execute(text(f"DELETE FROM {table}_default WHERE {in_month}"), bounds)
    _create_month(conn, month)
    moved = conn.execute(text(f"INSERT INTO {REQUEST} SELECT * FROM cc_moving_{REQUEST}"))
    conn.execute(text(f"INSERT INTO {RESPONSE} SELECT * FROM cc_moving_{RESPONSE}"))
    for statement in _PUT_BACK:
        conn.execute(text(statement))
    for table in (REQUEST, RESPONSE):
        conn.execute(text(f"DROP TABLE cc_moving_{table}"))
    for name, _, _ in _SET_ASIDE:
        conn.execute(text(f"DROP TABLE {name}"))
    return int(moved.rowcount)


def _drop_month(conn: Connection, month: date) -> None:
    # validations of the month go with it; error events and Silver rows lose their links
    _unlink_month(conn, month)
    for name, _, _ in _SET_ASIDE:
        conn.execute(text(f"DROP TABLE {name}"))
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
    # months to create whose rows first landed in DEFAULT: request rows to move out of it
    move_from_default: dict[date, int] = field(default_factory=dict)
    cutoff: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "create": [m.strftime("%Y-%m") for m in self.create],
            "drop": [m.strftime("%Y-%m") for m in self.drop],
            "move_from_default": {
                m.strftime("%Y-%m"): rows for m, rows in self.move_from_default.items()
            },
            "retention_cutoff": self.cutoff.isoformat() if self.cutoff else None,
        }


def plan_maintenance(
    conn: Connection,
    *,
    now: datetime | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    months_ahead: int = DEFAULT_MONTHS_AHEAD,
) -> MaintenancePlan:
    """Months to create (from the retention cutoff through ``months_ahead``) and to drop.

    Months are UTC calendar months of ``now`` (the wall clock when not given).
    """
    # concurrent first uses of a database would otherwise deadlock creating the same months
    conn.execute(text(PARTITION_LOCK))
    now = (now or datetime.now(UTC)).astimezone(UTC)
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
        plan.create.append(month)
        stranded = _rows_in_default(conn, month)
        if stranded:
            plan.move_from_default[month] = stranded
    return plan


def _rows_in_default(conn: Connection, month: date, table: str = REQUEST) -> int:
    """Rows of ``month`` that landed in ``table``'s default partition."""
    count = conn.scalar(
        text(f"SELECT count(*) FROM {table}_default WHERE {_IN_MONTH.format(col='sent_at')}"),
        _bounds(month),
    )
    return int(count or 0)


def apply_plan(conn: Connection, plan: MaintenancePlan) -> None:
    """Carry out ``plan`` inside the caller's transaction.

    Rows of a month to create are counted again under a lock on the DEFAULT partitions, so
    a row that arrived after planning is moved too (and ``move_from_default`` says so).
    """
    for month in plan.drop:
        _drop_month(conn, month)
    if plan.create:
        conn.execute(text(f"LOCK TABLE {REQUEST}_default, {RESPONSE}_default IN EXCLUSIVE MODE"))
    for month in plan.create:
        if _rows_in_default(conn, month) or _rows_in_default(conn, month, RESPONSE):
            plan.move_from_default[month] = _create_month_from_default(conn, month)
        else:
            plan.move_from_default.pop(month, None)
            _create_month(conn, month)


def ensure_default_window(conn: Connection, *, now: datetime | None = None) -> list[date]:
    """Create any missing month in the default window; never drops anything."""
    plan = plan_maintenance(conn, now=now)
    plan.drop = []
    apply_plan(conn, plan)
    return plan.create
