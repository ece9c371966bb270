"""The console against real engines and the simulator over a loopback socket."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import text
from textual.command import CommandPalette
from textual.widgets import OptionList

from cc_console.settings import Settings
from cc_console.store.templates import ActiveTemplate
from cc_console.tui import make_app
from cc_console.tui.screens.modals import ConfirmScreen
from cc_console.tui.screens.picker import TemplatePicker
from tests.tenant import KEY_ENV, SIM_KEY

from .conftest import loaded

DEADLINE_S = 60


async def until(pilot: Any, condition: Any, what: str) -> None:
    """Let the app run until ``condition()`` holds (bounded; fails with ``what``)."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def picked(template_id: Any) -> ActiveTemplate:
    """The picker's row of the template, as a user would choose it."""
    return ActiveTemplate(template_id, "patients", "/patients/odata", {}, "sim", False)


def runs(app: Any) -> list[dict[str, Any]]:
    data = app.dashboard_screen.data
    return data.runs.rows if data is not None else []


@pytest.fixture
def live_app(database, db_url):  # type: ignore[no-untyped-def]
    def make(**options: Any) -> Any:
        return make_app(Settings(database_url=db_url), database, db_label="test-db", **options)

    return make


async def test_start_a_sync_from_the_picker_and_watch_requests_arrive(tenant, live_app) -> None:
    t = tenant("clean", default_page_size=50)
    t.template("/patients/odata")
    app = live_app(trigger="demo")  # the demo's own syncs are "demo"; what you start, "console"
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, TemplatePicker), "the picker")
        await pilot.press(*"patients", "enter")
        await until(pilot, lambda: any(r["status"] == "succeeded" for r in runs(app)), "the run")
        await until(pilot, lambda: app.dashboard_screen.data.requests.rows, "requests")
        run = runs(app)[0]
        requests = app.dashboard_screen.panes["requests"].table
        await until(pilot, lambda: requests.row_count == run["requests"], "every request shown")
    assert run["trigger"] == "console" and run["records"] == 300 == run["odata_count"]
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == 300
    # the operator's action, once, and the run points at it
    [asked] = t.rows("SELECT id, action, source, template_id FROM cc_operator_action")
    assert (asked.action, asked.source) == ("sync", "console")
    assert t.scalar("SELECT action_id FROM cc_sync_run") == asked.id


async def test_a_failed_run_resumed_with_r_continues_from_its_cursor(tenant, live_app) -> None:
    t = tenant(
        "hostile",
        sim={
            "mutate_rate": 0.0,
            "drift_after": 1_000_000,
            "faults": {"stall": 0.0, "error_503_bare": 0.3},
        },
        max_retries=0,
        default_page_size=25,
    )
    template = t.template("/patients/odata")
    app = live_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.start_sync_of(picked(template))
        await until(pilot, lambda: runs(app) and runs(app)[0]["status"] != "running", "run 1")
        assert runs(app)[0]["status"] in ("failed", "partial")
        table = app.dashboard_screen.panes["runs"].table
        for _ in range(40):
            latest = runs(app)[0]
            if latest["status"] == "succeeded":
                break
            table.focus()
            table.move_cursor(row=0)
            await pilot.press("r")
            await until(
                pilot,
                lambda latest=latest: (
                    runs(app)[0]["id"] != latest["id"] and runs(app)[0]["status"] != "running"
                ),
                "the resumed run",
            )
        assert runs(app)[0]["status"] == "succeeded"
    chain = t.rows(
        "SELECT id, parent_run_id, trigger, status, action_id FROM cc_sync_run ORDER BY started_at"
    )
    assert len(chain) >= 2
    asked = t.rows("SELECT id, action, run_id FROM cc_operator_action ORDER BY at")
    # start_sync_of is the console's own call, as the picker makes it: one sync, then a resume
    # of each run that did not succeed, each run pointing at the action that started it
    assert [a.action for a in asked] == ["sync"] + ["resume"] * (len(chain) - 1)
    assert [a.run_id for a in asked[1:]] == [run.id for run in chain[:-1]]
    assert [run.action_id for run in chain] == [a.id for a in asked]
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child.parent_run_id == parent.id and child.trigger == "resume"
    # each run's first request asks for the page after the last one that landed before it
    attempts = t.rows(
        "SELECT q.run_id, CAST(q.query_params ->> '$skip' AS int) AS skip,"
        " COALESCE(s.parse_ok, false) AS landed FROM cc_api_request_log q"
        " LEFT JOIN cc_api_response_log s ON s.request_id = q.id AND s.sent_at = q.sent_at"
        " ORDER BY q.sent_at"
    )
    expected = 0
    for run in chain:
        mine = [a for a in attempts if a.run_id == run.id]
        if not mine:
            continue
        assert (mine[0].skip or 0) == expected, f"run {run.id} started at {mine[0].skip}"
        landed = [a.skip or 0 for a in mine if a.landed]
        expected = max(landed) + 25 if landed else expected
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == 300
    assert (
        t.scalar(
            "SELECT count(*) FROM (SELECT record_key FROM cc_silver_record GROUP BY 1 HAVING count(*) > 1) d"
        )
        == 0
    )


async def test_a_run_from_another_process_appears_live(tenant, live_app, db_url) -> None:
    t = tenant("clean", default_page_size=50)
    t.template("/patients/odata")
    name = t.rows("SELECT id FROM cc_odata_query_template")[0].id
    app = live_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        assert runs(app) == []
        env = {**os.environ, "CC_DATABASE_URL": db_url, KEY_ENV: SIM_KEY}
        engine = subprocess.Popen(
            [sys.executable, "-m", "cc_console", "sync", "-t", str(name), "--json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await until(pilot, lambda: runs(app), "the other process's run")
            await until(pilot, lambda: runs(app)[0]["status"] == "succeeded", "its end")
        finally:
            assert engine.wait(timeout=60) == 0, engine.stderr.read() if engine.stderr else ""
        assert runs(app)[0]["trigger"] == "manual" and runs(app)[0]["records"] == 300


async def test_a_dropped_link_shows_stale_and_reconnects(live_app, database) -> None:
    app = live_app()
    states = app.link_history
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: states and states[-1] is False, "the LISTEN link")
        with database.engine.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        await until(pilot, lambda: True in states, "the STALE badge")
        await until(pilot, lambda: states[-1] is False, "the reconnection")
        assert not app.stale


def palette_offers(app: Any, prompt: str) -> bool:
    """The command palette is open and its first option is ``prompt``."""
    if not isinstance(app.screen, CommandPalette):
        return False
    options = app.screen.query_one(OptionList)
    return options.option_count > 0 and str(options.get_option_at_index(0).prompt).startswith(
        prompt
    )


@pytest.mark.parametrize("way_out", ["q", "palette"])
async def test_quitting_with_active_runs_asks_and_cancel_ends_them_partial(
    tenant, live_app, way_out: str
) -> None:
    t = tenant("clean", sim={"latency_ms": 150}, default_page_size=10)
    template = t.template("/patients/odata")
    app = live_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.start_sync_of(picked(template))
        await until(pilot, lambda: runs(app) and runs(app)[0]["pages"] >= 1, "a landed page")
        if way_out == "q":
            await pilot.press("q")
        else:  # the command palette's Quit asks the same question
            await pilot.press("ctrl+p", *"quit")
            await until(pilot, lambda: palette_offers(app, "Quit"), "the palette's Quit")
            await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("enter")  # the first choice: cancel them
        await until(pilot, lambda: not app.is_running, "the exit")
    run = t.rows("SELECT status, records FROM cc_sync_run")[0]
    assert run.status == "partial" and 0 < run.records < 300
    assert t.scalar("SELECT count(*) FROM cc_error_event WHERE kind = 'cancelled'") == 1
    asked = t.rows("SELECT action, detail FROM cc_operator_action ORDER BY at")
    assert [(a.action, a.detail) for a in asked] == [
        ("sync", {}),
        ("cancel", {"on_quit": True, "runs_started_here": 1}),
    ]
