"""The Workers view (W): workers with their heartbeat, jobs by state, next due per template."""

from __future__ import annotations

from sqlalchemy import text
from textual.widgets import DataTable, Static

from cc_console.tui.screens.workers import WorkersScreen

from . import seed
from .conftest import loaded


def cells(table: DataTable) -> list[list[str]]:  # type: ignore[type-arg]
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_workers_view_shows_the_pool_its_jobs_and_the_schedule(
    console_app, seeded
) -> None:  # type: ignore[no-untyped-def]
    with seeded.engine.begin() as conn:
        conn.execute(
            text("UPDATE cc_odata_query_template SET schedule_interval_s = 3600 WHERE id = :t"),
            {"t": seed.TEMPLATES["studies"]},
        )
        alive = conn.execute(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO cc_worker (procrastinate_id, name, role, host, pid)"
                " VALUES (:id, 'ops-1', 'sync', 'box', 4242)"
            ),
            {"id": alive},
        )
        conn.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat)"
                " VALUES (now() - interval '5 minutes')"
            )
        )
        for status in ("todo", "failed"):
            conn.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, status, args, lock,"
                    " queueing_lock) VALUES ('sync', 'cc:sync', :s, '{}', NULL, NULL)"
                ),
                {"s": status},
            )
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("W")
        screen = app.screen
        assert isinstance(screen, WorkersScreen)
        for _ in range(100):
            if screen.data:
                break
            await pilot.pause(0.02)
        await pilot.pause()
        head = str(screen.query_one("#workers-head", Static).render())
        assert "1 worker(s) alive" in head and "1 silent" in head
        workers = cells(screen.query_one("#table-workers", DataTable))
        assert len(workers) == 2
        assert workers[0][0] == f"ops-1 sync (box:4242, #{alive})"  # named; the silent one not
        jobs = str(screen.query_one("#jobs-head", Static).render())
        assert "queued 1" in jobs and "failed 1" in jobs and "doing 0" in jobs
        [studies] = cells(screen.query_one("#table-schedule", DataTable))
        assert studies[0].endswith("studies") and studies[1] == "1h00m"
        assert studies[3] == "running" and studies[5] == "running"  # not "due" while it runs
        await pilot.press("escape")
        assert not isinstance(app.screen, WorkersScreen)


async def test_with_workers_alive_the_console_queues_instead_of_running_here(
    console_app, seeded
) -> None:  # type: ignore[no-untyped-def]
    with seeded.engine.begin() as conn:
        alive = conn.execute(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO cc_worker (procrastinate_id, name, role, host, pid)"
                " VALUES (:id, 'ops-1', 'sync', 'box', 4242)"
            ),
            {"id": alive},
        )
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.launch({"template_id": seed.TEMPLATES["studies"], "trigger": "console"}, "sync")
        app.launch(
            {
                "template_id": seed.TEMPLATES["subjects"],
                "trigger": "resume",
                "parent_run_id": seed.RUN_PARTIAL,
                "created_by": "tester",
            },
            "resume",
        )
        for _ in range(100):
            with seeded.engine.connect() as conn:
                jobs = (
                    conn.execute(text("SELECT args FROM procrastinate_jobs ORDER BY id"))
                    .scalars()
                    .all()
                )
            if len(jobs) == 2:
                break
            await pilot.pause(0.05)
        assert not app.console_runs  # nothing runs in the console's own process
    assert [(j["action"], j["trigger"]) for j in jobs] == [
        ("start", "console"),
        ("resume", "resume"),
    ]
    assert jobs[1]["run_id"] == str(seed.RUN_PARTIAL) and jobs[1]["created_by"] == "tester"
