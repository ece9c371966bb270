"""Console fixtures: a seeded database and the app built by the same factory as the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cc_console.settings import Settings
from cc_console.store.database import Database
from cc_console.tui import ConsoleApp, make_app

from .seed import FROZEN, seed_console


@pytest.fixture
def seeded(database: Database) -> Database:
    seed_console(database)
    return database


@pytest.fixture
def console_app(seeded: Database, db_url: str) -> Callable[..., ConsoleApp]:
    """``console_app(**options)``: the console on the seeded database, clock frozen."""

    def make(**options: Any) -> ConsoleApp:
        options.setdefault("clock", lambda: FROZEN)
        options.setdefault("live", False)
        options.setdefault("db_label", "test-db")
        return make_app(Settings(database_url=db_url), seeded, **options)

    return make


async def loaded(pilot: Any, count: int = 1) -> None:
    """Wait until the app has applied ``count`` dashboard reads (bounded, not a guess)."""
    app = pilot.app
    for _ in range(200):
        if app.loads >= count:
            break
        await pilot.pause(0.02)
    assert app.loads >= count, "the dashboard never loaded"
    await pilot.pause()
