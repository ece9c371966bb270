"""A console in another process sees the engine's events as they commit."""

from __future__ import annotations

import asyncio
import sys

from cc_console.store.database import Database
from cc_console.store.listen import listen_events

NOTIFY = """
import sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.begin() as conn:
    conn.execute(text("SELECT pg_notify('cc_console_events', :p)"),
                 {"p": '{"kind": "page", "run_id": "r1", "records": 7}'})
    conn.execute(text("SELECT pg_notify('cc_console_events', 'not json')"))
    conn.execute(text("SELECT pg_notify('cc_console_events', :p)"),
                 {"p": '{"kind": "run", "run_id": "r1", "status": "succeeded"}'})
"""


async def test_events_from_another_process_arrive_after_commit(database: Database) -> None:
    url = database.url
    async with listen_events(url) as events:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", NOTIFY, url.render_as_string(hide_password=False)
        )
        assert await process.wait() == 0
        received = []
        async with asyncio.timeout(10):
            async for event in events:
                received.append(event)
                if len(received) == 2:
                    break
    assert received == [
        {"kind": "page", "run_id": "r1", "records": 7},
        {"kind": "run", "run_id": "r1", "status": "succeeded"},
    ]
