"""The console's Reports screen on the seeded week: a snapshot, and drilling into a row."""

from __future__ import annotations

from typing import Any

import pytest

from cc_console.settings import Settings
from cc_console.tui import make_app
from cc_console.tui.screens.audit import AuditScreen
from cc_console.tui.screens.reports import ReportsScreen
from tests.tui.conftest import loaded
from tests.tui.test_snapshots import settle

from .seed import NOW, seed_reports


@pytest.fixture
def reports_app(database, db_url):  # type: ignore[no-untyped-def]
    seed_reports(database)

    def make() -> Any:
        return make_app(
            Settings(database_url=db_url),
            database,
            clock=lambda: NOW,
            live=False,
            db_label="test-db",
        )

    return make


async def open_reports(pilot: Any, tab: str) -> ReportsScreen:
    await loaded(pilot)
    await pilot.press("p")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReportsScreen)
    screen.query_one("#report-tabs").active = f"tab-{tab}"
    await settle(pilot)
    return screen


@pytest.mark.parametrize("tab", ["sla", "throttling", "validation", "audit"])
def test_reports_screen(snap_compare: Any, reports_app: Any, tab: str) -> None:
    async def run_before(pilot: Any) -> None:
        await open_reports(pilot, tab)

    assert snap_compare(reports_app(), terminal_size=(120, 40), run_before=run_before)


async def test_enter_on_an_hour_of_429s_opens_exactly_those_requests(reports_app) -> None:
    app = reports_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_reports(pilot, "throttling")
        table = screen.query_one("#table-throttling")
        assert table.row_count == 3
        table.focus()
        await pilot.press("enter")  # 2026-11-23 09h, /studies/odata, 4 × 429
        await settle(pilot)
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        assert audit.query_text.startswith("status:429 endpoint:/studies/odata since:")
        assert len(audit.rows) == 4 and {r["status_code"] for r in audit.rows} == {429}
        assert "Reports › Audit" in str(audit.query_one("#crumbs").render())


async def test_the_window_key_cycles_and_rereads(reports_app) -> None:
    app = reports_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_reports(pilot, "throttling")
        assert screen.data["throttling"]["http_429"] == 7  # 7 days
        await pilot.press("w")
        await settle(pilot)
        assert screen.data["throttling"]["http_429"] == 7  # 30 days: nothing older
        await pilot.press("w")
        await settle(pilot)
        assert screen.data["throttling"]["http_429"] == 0  # 24 hours: day 0 had none
        assert screen.data["audit"]["requests"] == 14
