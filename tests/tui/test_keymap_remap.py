"""Every binding id of every screen can be remapped in keymap.toml, and help shows the key."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen

from cc_console.settings import Settings
from cc_console.store.database import Database
from cc_console.tui import make_app
from cc_console.tui.keymap import ACTIONS, SCOPES, Action
from cc_console.tui.screens.audit import AuditScreen
from cc_console.tui.screens.modals import ConfirmScreen, ErrorScreen, HelpScreen
from cc_console.tui.screens.picker import TemplatePicker
from cc_console.tui.screens.reports import ReportsScreen
from cc_console.tui.screens.request_detail import RequestDetailScreen

from . import seed
from .conftest import loaded

REMAPPED = "f9"  # bound to nothing by default

# the screen each scope's keys work on (the app's and the dashboard's: the dashboard)
SCREENS: dict[str, Callable[[Any], Screen[Any] | None]] = {
    "app": lambda app: None,
    "dashboard": lambda app: None,
    "detail": lambda app: ReportsScreen(),
    "request_detail": lambda app: RequestDetailScreen(
        [(uuid.uuid4(), seed.FROZEN)], 0, crumbs=["Dashboard"]
    ),
    "audit": lambda app: AuditScreen(),
    "reports": lambda app: ReportsScreen(),
    "confirm": lambda app: ConfirmScreen("Really?"),
    "error": lambda app: ErrorScreen("That did not work", "no"),
    "help": lambda app: HelpScreen(app.screen),
    "picker": lambda app: TemplatePicker([]),
}


def test_every_scope_has_a_screen_in_this_test() -> None:
    assert set(SCREENS) == set(SCOPES)


def remapped_app(seeded: Database, db_url: str, folder: Path, keys: dict[str, str]) -> Any:
    """The console as the CLI builds it, with ``keys`` written to its keymap.toml."""
    keymap = folder / "keymap.toml"
    keymap.write_text("".join(f'{binding_id} = "{key}"\n' for binding_id, key in keys.items()))
    settings = Settings(database_url=db_url, keymap_file=keymap)
    return make_app(settings, seeded, clock=lambda: seed.FROZEN, live=False, db_label="test-db")


@pytest.mark.parametrize("registered", ACTIONS, ids=[a.id for a in ACTIONS])
async def test_a_remapped_binding_fires_on_its_new_key(
    seeded: Database, db_url: str, tmp_path: Path, registered: Action
) -> None:
    app = remapped_app(seeded, db_url, tmp_path, {registered.id: REMAPPED})
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        screen = SCREENS[registered.scope](app)
        if screen is not None:
            await app.push_screen(screen)
            await pilot.pause()
        if isinstance(screen, AuditScreen):
            # Textual drops bindings on keys a focused Input types (n, e, y) before it applies
            # the keymap, so the audit keys work from the table, as they do by default
            screen.query_one("#audit-table").focus()
            await pilot.pause()
        fired: list[tuple[str, Any]] = []

        async def record(action: str, namespace: Any = None) -> bool:
            fired.append((action, namespace))
            return True

        app.run_action = record  # type: ignore[method-assign]
        await pilot.press(REMAPPED)
        assert [action for action, _ in fired] == [registered.action]
        owner = app if registered.scope == "app" else app.screen
        assert fired[0][1] is owner
        fired.clear()
        await pilot.press(registered.keys.split(",")[0])  # the default key lets go of it
        assert (registered.action, owner) not in fired


async def test_help_names_the_remapped_key(seeded: Database, db_url: str, tmp_path: Path) -> None:
    app = remapped_app(seeded, db_url, tmp_path, {"start_sync": "ctrl+n", "follow": "ctrl+f"})
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        await pilot.press("2", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        body = app.screen._body()
        rows = {desc: key for key, desc in zip(*(c._cells for c in body.columns), strict=True)}
        assert rows["follow the newest request (panes 2 and 5 follow by default)"] == "^f"
        assert rows["start a sync: pick an active template"] == "^n"


def test_every_binding_of_every_screen_is_registered() -> None:
    from textual.binding import Binding

    from cc_console.tui.app import ConsoleApp
    from cc_console.tui.screens.dashboard import DashboardScreen
    from cc_console.tui.screens.run_detail import RunDetailScreen
    from cc_console.tui.screens.workers import WorkersScreen

    registered = {a.id: a for a in ACTIONS}
    classes = [
        ConsoleApp,
        DashboardScreen,
        RunDetailScreen,
        RequestDetailScreen,
        AuditScreen,
        ReportsScreen,
        WorkersScreen,
        ConfirmScreen,
        ErrorScreen,
        HelpScreen,
        TemplatePicker,
    ]
    for cls in classes:
        for klass in cls.__mro__:
            for binding in klass.__dict__.get("BINDINGS", []):
                if klass.__module__.startswith("textual."):
                    continue  # Textual's own (a screen's focus keys)
                assert isinstance(binding, Binding) and binding.id in registered, (cls, binding)
                assert registered[binding.id].action == binding.action


def test_the_readme_names_every_binding_id() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [
        a.id for a in ACTIONS if a.id not in readme and a.id not in ("pane_2", "pane_3", "pane_4")
    ]
    assert not missing
