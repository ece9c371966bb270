"""Snapshots of every main screen on a seeded database with a frozen clock (review each SVG)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import DataTable, Input

from .conftest import loaded


def _tables_measuring(app: Any) -> bool:
    """A DataTable of any screen on the stack whose rows changed but whose column widths
    are not measured yet (DataTable measures them when idle: under load a snapshot could
    catch the rows with the old widths)."""
    return any(
        table._require_update_dimensions
        for screen in app.screen_stack
        for table in screen.query(DataTable)
    )


async def settle(pilot: Any) -> None:
    """Let workers finish, tables measure their columns and cursors stop blinking, so the
    picture is the same every time."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for _ in range(50):  # a condition, not a delay: usually one pass
        if not _tables_measuring(pilot.app):
            break
        await pilot.pause()
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def steps(*keys: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


SIZES = pytest.mark.parametrize(
    "size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"]
)


@SIZES
def test_dashboard(snap_compare: Any, console_app: Any, size: tuple[int, int]) -> None:
    assert snap_compare(console_app(), terminal_size=size, run_before=steps())


def test_dashboard_compact_on_errors_pane(snap_compare: Any, console_app: Any) -> None:
    assert snap_compare(console_app(), terminal_size=(80, 24), run_before=steps("5"))


@SIZES
def test_run_detail(snap_compare: Any, console_app: Any, size: tuple[int, int]) -> None:
    # the cursor starts on the newest run; two downs reach the failed one
    assert snap_compare(
        console_app(), terminal_size=size, run_before=steps("down", "down", "enter")
    )


@pytest.mark.parametrize("tab", ["request", "response", "validation", "timing"])
def test_request_detail_tabs(snap_compare: Any, console_app: Any, tab: str) -> None:
    async def run_before(pilot: Any) -> None:
        await steps("2", "down", "down", "enter")(pilot)  # the 503 with an HTML body
        pilot.app.screen.query_one("#request-tabs").active = f"tab-{tab}"
        await settle(pilot)

    assert snap_compare(console_app(), terminal_size=(120, 40), run_before=run_before)


@SIZES
def test_audit_browser_with_filter(
    snap_compare: Any, console_app: Any, size: tuple[int, int]
) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        pilot.app.action_audit("status:4xx !endpoint:patients")
        await settle(pilot)

    assert snap_compare(console_app(), terminal_size=size, run_before=run_before)


def test_template_picker(snap_compare: Any, console_app: Any) -> None:
    assert snap_compare(console_app(), terminal_size=(120, 40), run_before=steps("s", "s", "u"))


@SIZES
def test_help(snap_compare: Any, console_app: Any, size: tuple[int, int]) -> None:
    assert snap_compare(console_app(), terminal_size=size, run_before=steps("2", "f1"))


def test_read_only(snap_compare: Any, console_app: Any) -> None:
    assert snap_compare(console_app(read_only=True), terminal_size=(120, 40), run_before=steps())


def test_too_small(snap_compare: Any, console_app: Any) -> None:
    assert snap_compare(console_app(), terminal_size=(50, 12), run_before=steps())


def test_reports(snap_compare: Any, console_app: Any) -> None:
    assert snap_compare(console_app(), terminal_size=(120, 40), run_before=steps("p"))


def test_workers_view(snap_compare: Any, console_app: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await loaded(pilot)
        pilot.app.action_workers()
        await settle(pilot)

    assert snap_compare(console_app(), terminal_size=(120, 40), run_before=run_before)
