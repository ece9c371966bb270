"""How the console writes a time: the time of day today, the date and minute otherwise — by
the viewer's calendar day, not the last 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cc_console.tui.format import when

NOW = datetime(2026, 12, 1, 17, 40, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        (NOW - timedelta(minutes=5), "17:35:00"),
        (NOW.replace(hour=0, minute=0, second=1), "00:00:01"),  # early today
        (NOW - timedelta(hours=17, minutes=41), "11-30 23:59"),  # yesterday, 18 h ago
        (NOW - timedelta(days=3), "11-28 17:40"),
    ],
)
def test_today_shows_the_time_other_days_the_date(at: datetime, shown: str) -> None:
    assert when(at, NOW).plain == shown


def test_the_day_is_the_viewers() -> None:
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))  # 12-02 02:40 there
    assert when(NOW - timedelta(hours=3), tokyo).plain == "12-01 23:40"
    assert when(NOW - timedelta(hours=2), tokyo).plain == "00:40:00"
    assert when(None, NOW).plain == "—"
