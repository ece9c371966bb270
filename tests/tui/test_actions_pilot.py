"""The console shows who did what: the Actions view (A) and, in a run's detail, who asked."""

from __future__ import annotations

import io

from rich.console import Console
from sqlalchemy import text
from textual.widgets import Static

from cc_console.store.operator_actions import Operator, record_action
from cc_console.tui.screens.actions import ActionsScreen
from cc_console.tui.screens.run_detail import RunDetailScreen

from . import seed
from .conftest import loaded


def ask(database, action: str, **ids):  # type: ignore[no-untyped-def]
    with database.engine.begin() as conn:
        return record_action(conn, Operator("alice", "cli", "ops-1"), action, **ids)


def _run_summary(app) -> str:  # type: ignore[no-untyped-def]
    """The run detail's summary as text, as the screen shows it at 120 columns."""
    assert isinstance(app.screen, RunDetailScreen)
    shown = Console(width=120, record=True, file=io.StringIO())
    shown.print(app.screen.query_one("#run-summary", Static).visual._renderable)
    return shown.export_text()


async def test_the_actions_view_lists_who_did_what_and_opens_the_run(console_app, seeded) -> None:
    started = ask(seeded, "sync", template_id=seed.TEMPLATES["subjects"])
    with seeded.engine.begin() as conn:
        conn.execute(
            text("UPDATE cc_sync_run SET action_id = :a WHERE id = :r"),
            {"a": started, "r": seed.RUN_PARTIAL},
        )
    ask(seeded, "cancel", run_id=seed.RUN_PARTIAL, detail={"flagged": True})
    ask(seeded, "config_edit", config_id=seed.CONFIG, detail={"changed": ["max_rps"]})
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("A")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ActionsScreen)
        table = screen.table
        assert table.row_count == 3
        newest = [str(cell) for cell in table.get_row_at(0)]
        assert "config_edit" in newest and "changed=['max_rps']" in newest
        assert any("alice (" in cell and "@ops-1)" in cell for cell in newest)
        table.move_cursor(row=1)  # the cancel, about the partial run
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = _run_summary(app)
        assert "asked    sync by alice" in summary and "asked    cancel by alice" in summary
        assert "via cli" in summary


async def test_a_runs_detail_shows_its_audit_seal(console_app, seeded) -> None:  # type: ignore[no-untyped-def]
    from cc_console.client.seal_key import load_seal_key
    from cc_console.settings import load_settings
    from cc_console.store.audit_seal import seal_chain

    engine = seeded.async_engine()
    key = load_seal_key(load_settings())
    await seal_chain(engine, seed.RUN_PARTIAL, key, sealed_by="sweep", config_id=seed.CONFIG)
    await engine.dispose()
    ask(seeded, "cancel", run_id=seed.RUN_PARTIAL)
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("A")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        summary = _run_summary(app)
    assert f"sealed   #1 of its config · 0 requests, 0 responses · key {key.key_id}" in summary
    assert "by the stale sweep" in summary
