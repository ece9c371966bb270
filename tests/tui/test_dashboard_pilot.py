"""Driving the console with the keyboard on a seeded database (no engine running)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from textual.widgets import Static

from cc_console.tui.screens.modals import ConfirmScreen
from cc_console.tui.screens.picker import TemplatePicker
from cc_console.tui.screens.request_detail import RequestDetailScreen
from cc_console.tui.screens.run_detail import RunDetailScreen

from . import seed
from .conftest import loaded


def add_requests(database: Any, first: int, count: int) -> None:
    """``count`` newer request attempts of the running run."""
    with database.engine.begin() as conn:
        for n in range(first, first + count):
            seed._request(
                conn,
                n,
                seed.RUN_RUNNING,
                "studies",
                seed.FROZEN - timedelta(seconds=4) + timedelta(milliseconds=n),
                0,
                200,
                body=seed.page("studies", 0, 300),
            )


async def reload(pilot: Any) -> None:
    await loaded(pilot, pilot.app.loads)  # drain the read in flight
    before = pilot.app.loads
    pilot.app.refresh_dashboard()
    await loaded(pilot, before + 1)


def topbar(app: Any) -> str:
    return str(app.dashboard_screen.query_one("#topbar").render())


async def test_follow_lets_go_on_scroll_and_pause_counts_new(console_app, seeded) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        table = app.dashboard_screen.panes["requests"].table
        assert table.row_count == 11 and table.following
        await pilot.press("2", "down")
        assert not table.following and table.cursor_row == 1
        held = table.selected_key
        add_requests(seeded, 100, 2)
        await reload(pilot)
        assert table.row_count == 13
        assert (
            table.selected_key == held and table.cursor_row == 3
        )  # the row stayed under the cursor
        await pilot.press("F")
        assert table.following and table.cursor_row == 0
        await pilot.press("space")
        assert "PAUSED" in topbar(app)
        add_requests(seeded, 200, 3)
        await reload(pilot)
        assert table.row_count == 13, "a paused pane must not move"
        assert "3 new" in topbar(app)
        assert app.dashboard_screen.panes["runs"].table.row_count == 4  # the rest keeps moving
        await pilot.press("space")
        await pilot.pause()
        assert table.row_count == 16 and table.cursor_row == 0
        assert "PAUSED" not in topbar(app)


async def test_read_only_disables_every_action(console_app, seeded) -> None:
    app = console_app(read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        for action in ("start_sync", "resume", "retry", "cancel_run"):
            assert app.check_action(action, ()) is None  # disabled, still listed in the footer
        await pilot.press("s")
        await pilot.pause()
        assert not any(isinstance(s, TemplatePicker) for s in app.screen_stack)
        await pilot.press("down", "down", "r", "R", "up", "up", "c")
        await pilot.pause()
        assert not any(isinstance(s, ConfirmScreen) for s in app.screen_stack)
        assert "READ-ONLY" in topbar(app)
    with seeded.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_sync_run")) == 4
        assert (
            conn.scalar(
                text("SELECT count(*) FROM cc_sync_run WHERE cancel_requested_at IS NOT NULL")
            )
            == 0
        )


async def test_cancel_asks_then_flags_the_running_run(console_app, seeded) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert app.dashboard_screen.selected_run()["id"] == seed.RUN_RUNNING
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")  # changing one's mind cancels nothing
        await pilot.pause()
        await pilot.press("c", "y")
        await app.workers.wait_for_complete()
    with seeded.engine.connect() as conn:
        flagged = (
            conn.execute(text("SELECT id FROM cc_sync_run WHERE cancel_requested_at IS NOT NULL"))
            .scalars()
            .all()
        )
        asked = conn.execute(
            text("SELECT action, run_id, source, detail FROM cc_operator_action")
        ).all()
    assert flagged == [seed.RUN_RUNNING]
    # the cancel is the operator's action, recorded once (the escape asked nothing)
    assert [tuple(a) for a in asked] == [("cancel", seed.RUN_RUNNING, "console", {"flagged": True})]


async def test_resume_refuses_a_run_that_is_not_failed_or_partial(console_app, seeded) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "down", "r")  # the succeeded run
        await pilot.pause()
        assert not app.console_runs
    with seeded.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM cc_sync_run")) == 4


async def test_drill_down_steps_and_comes_back_with_the_filter(console_app) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        runs = app.dashboard_screen.panes["runs"].table
        await pilot.press("slash", *"subjects", "enter")
        await pilot.pause()
        assert (
            runs.row_count == 1
            and "/subjects/" in app.dashboard_screen.panes["runs"].border_title  # said in the title
        )
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        detail = app.screen
        assert isinstance(detail, RunDetailScreen) and detail.run_id == seed.RUN_PARTIAL
        assert detail.query_one("#timeline").row_count == 4
        assert detail.query_one("#run-errors").row_count == 2
        await pilot.press("down", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        request = app.screen
        assert isinstance(request, RequestDetailScreen)
        assert request.request["status_code"] == 429 and request.index == 1
        await pilot.press("right_square_bracket")
        await app.workers.wait_for_complete()
        assert request.index == 2 and request.request["attempt_no"] == 2
        assert "Run 00000017 › Request 3 of 4" in str(request.query_one("#crumbs").render())
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is app.dashboard_screen
        assert runs.filter_text == "subjects" and runs.row_count == 1


async def test_untrusted_text_is_never_markup(console_app) -> None:
    app = console_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot)
        errors = app.dashboard_screen.panes["errors"].table
        messages = [errors.get_row_at(i)[-1].plain for i in range(errors.row_count)]
        assert "503 Service Unavailable [red]not markup[/red]" in messages


async def test_a_big_body_opens_as_a_collapsible_tree(console_app, seeded) -> None:
    from cc_console.tui.components.json_tree import CHILD_CAP, JsonTree

    body = seed.page("subjects", 0, 5000)
    body["items"] = [{"id": n, "note": "x" * 100} for n in range(CHILD_CAP + 100)]
    with seeded.engine.begin() as conn:
        seed._request(
            conn,
            300,
            seed.RUN_RUNNING,
            "studies",
            seed.FROZEN - timedelta(seconds=1),
            0,
            200,
            body=body,
        )
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("2", "enter")  # the newest request: the big one
        await app.workers.wait_for_complete()
        await pilot.pause()
        tree = app.screen.query_one(JsonTree)
        items = next(n for n in tree.root.children if str(n.label).startswith("items"))
        assert not items.children  # built only when opened
        items.expand()
        await pilot.pause()
        assert len(items.children) == CHILD_CAP + 1  # capped, and says how many more
        assert str(items.children[-1].label) == "… 100 more"


async def test_a_failing_read_shows_an_error_and_the_console_lives_on(
    console_app, monkeypatch
) -> None:
    from cc_console.tui.screens import run_detail
    from cc_console.tui.screens.modals import ErrorScreen

    async def broken(conn, run_id, redaction_key=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away [bold]mid-read[/bold]")

    monkeypatch.setattr(run_detail, "load_run", broken)
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "RuntimeError: the database went away [bold]mid-read[/bold]" in app.screen.message
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is app.dashboard_screen and app.is_running


async def test_the_palette_opens_entities(console_app) -> None:
    from cc_console.tui.screens.audit import AuditScreen

    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"audit endpoint /patients")
        from textual.command import CommandList

        from .test_live_pilot import until

        await until(pilot, lambda: app.screen.query_one(CommandList).option_count, "a match")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)
        assert app.screen.query_text == "endpoint:/patients" and len(app.screen.rows) == 2


async def test_a_dual_writing_run_shows_what_it_mirrored_and_lost(console_app, seeded) -> None:
    from rich.console import Console

    with seeded.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_sync_run SET legacy_writes = 7, legacy_write_failures = 2 WHERE id = :id"
            ),
            {"id": seed.RUN_PARTIAL},
        )
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("slash", *"subjects", "enter", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = app.screen.query_one("#run-summary", Static).content
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(summary)
        shown = console.export_text()
    assert "dual-write" in shown and "7 mirrored" in shown
    assert "not written" in shown.split("dual-write")[1].splitlines()[0]
    assert shown.split("not written")[1].split()[0] == "2"


def add_errors(database: Any, first: int, count: int) -> None:
    """``count`` newer failed attempts (503s) of the running run."""
    with database.engine.begin() as conn:
        for n in range(first, first + count):
            at = seed.FROZEN - timedelta(seconds=3) + timedelta(milliseconds=n)
            seed._request(
                conn, n, seed.RUN_RUNNING, "studies", at, 0, 503,
                error=("http_503", True, f"HTTP 503 from /studies: try {n}"),
            )  # fmt: skip


async def test_the_errors_pane_follows_the_newest_and_lets_go_on_scroll(
    console_app, seeded
) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        table = app.dashboard_screen.panes["errors"].table
        assert table.following and table.cursor_row == 0
        add_errors(seeded, 300, 3)
        await reload(pilot)
        newest = app.dashboard_screen.data.errors.rows[0]
        assert newest["message"].endswith("try 302")
        assert table.cursor_row == 0 and table.selected_key == str(newest["id"])
        assert table.scroll_y == 0  # the new rows are in view, not above it
        await pilot.press("5", "down")
        assert not table.following
        held = table.selected_key
        add_errors(seeded, 400, 2)
        await reload(pilot)
        assert table.selected_key == held  # scrolled away: the row stays under the cursor
        await pilot.press("up", "up", "up")
        assert table.following  # back at the top, it follows again


async def test_toasts_cover_no_input_and_leave_no_fragments(console_app) -> None:  # type: ignore[no-untyped-def]
    from textual.widgets import Input
    from textual.widgets._toast import Toast

    app = console_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await loaded(pilot)
        await pilot.press("slash")  # the filter input is open at the bottom
        app.notify("following the newest request")
        app.notify("copied as curl (it reads the key from the secret reference when run)")
        await pilot.pause()
        toasts = list(app.screen.query(Toast))
        assert len(toasts) == 2
        box = app.dashboard_screen.query_one("#filter", Input).region
        keys = app.dashboard_screen.query_one("KeyBar").region
        for toast in toasts:
            region = toast.region
            assert region.height == 1  # one line, no padding rows: nothing left over a frame
            assert not region.overlaps(box) and not region.overlaps(keys)
            assert region.y <= 2  # at the top, over the top bar's end
    assert app.NOTIFICATION_TIMEOUT <= 3


async def test_a_run_whose_engine_is_gone_shows_stale_and_resume_sweeps_it(
    console_app, seeded
) -> None:
    later = seed.FROZEN + timedelta(minutes=10)  # the running run's engine stopped beating
    app = console_app(clock=lambda: later)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await reload(pilot)
        await reload(pilot)  # reads only: the console sweeps on no timer
        running = next(
            r for r in app.dashboard_screen.data.runs.rows if r["id"] == seed.RUN_RUNNING
        )
        assert running["stale"] is True
        cells = app.dashboard_screen.panes["runs"].table.get_row(str(seed.RUN_RUNNING))
        assert "stale" in [getattr(c, "plain", c) for c in cells]
        with seeded.engine.connect() as conn:
            status = conn.scalar(
                text("SELECT status FROM cc_sync_run WHERE id = :r"), {"r": seed.RUN_RUNNING}
            )
        assert status == "running"
        await pilot.press("r")  # resume it: the console ends it as interrupted first
        await app.workers.wait_for_complete()
    with seeded.engine.connect() as conn:
        swept = conn.execute(
            text(
                "SELECT r.status, (SELECT count(*) FROM cc_error_event e WHERE e.run_id = r.id"
                " AND e.kind = 'interrupted') AS events FROM cc_sync_run r WHERE r.id = :r"
            ),
            {"r": seed.RUN_RUNNING},
        ).one()
        resumed = conn.scalar(
            text("SELECT count(*) FROM cc_sync_run WHERE parent_run_id = :r"),
            {"r": seed.RUN_RUNNING},
        )
    assert swept.status == "partial" and swept.events == 1
    assert resumed == 1


async def test_a_run_that_did_not_succeed_shows_what_to_do_with_it(console_app) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert "r resume" not in topbar(app)  # the running run
        await pilot.press("down")
        await pilot.pause()
        assert "partial run: r resume · R retry" in topbar(app)
        await pilot.press("down")
        await pilot.pause()
        assert "failed run: r resume · R retry" in topbar(app)
        await pilot.press("down")
        await pilot.pause()
        assert "r resume" not in topbar(app)  # succeeded: nothing to resume
        await pilot.press("up", "2")  # another pane has the focus: pane 1's hint goes
        await pilot.pause()
        assert "r resume" not in topbar(app)
