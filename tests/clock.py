"""Fixed instants for tests that build time-dependent data: never the wall clock's today.

A test that builds rows at a fixed instant also creates the partitions of that instant's
window (``partitions_at``): the template database's partitions follow the day the suite
started, and rows of another month would otherwise land in the DEFAULT partition.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection

from cc_console.store.partitions import ensure_default_window

# the instants that break date arithmetic: a month's first minutes, its middle, its last
# millisecond, the turn of a year, a leap day
FIRST_OF_MONTH = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
MID_MONTH = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
LAST_OF_MONTH = datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC)
NEW_YEARS_EVE = datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
LEAP_DAY = datetime(2028, 2, 29, 23, 0, tzinfo=UTC)

EDGES = [
    pytest.param(FIRST_OF_MONTH, id="first-of-month"),
    pytest.param(MID_MONTH, id="mid-month"),
    pytest.param(LAST_OF_MONTH, id="last-of-month"),
    pytest.param(NEW_YEARS_EVE, id="new-years-eve"),
    pytest.param(LEAP_DAY, id="leap-day"),
]


def partitions_at(conn: Connection, now: datetime) -> None:
    """Create the monthly partitions of the default window around ``now``."""
    ensure_default_window(conn, now=now)
