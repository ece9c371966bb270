"""The read-only console shows redacted values only as fingerprints: the request detail's
tabs, its copy-as-curl and the audit browser's curl; the operator's console shows them."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import text
from textual.widgets import Static

from cc_console.redaction import Policy, fingerprint
from cc_console.settings import Settings
from cc_console.store.database import Database
from cc_console.store.redaction import set_policy
from cc_console.tui import make_app
from cc_console.tui.screens.audit import AuditScreen
from cc_console.tui.screens.request_detail import RequestDetailScreen
from tests.tui.conftest import loaded
from tests.tui.seed import CONFIG, FROZEN, seed_console
from tests.tui.test_snapshots import settle

KEY = b"fake-console-redaction-key-0123456789"
NAMES = ("subject 1", "subject 2", "subject 3")


def seed_redacted(database: Database) -> None:
    """The console's seed, a policy on /subjects' names and a filter naming one."""
    seed_console(database)
    with database.engine.begin() as conn:
        set_policy(conn, CONFIG, "/subjects", Policy(("$.name",)), "tester")
        conn.execute(
            text(
                "UPDATE cc_api_request_log SET query_params = query_params"
                " || jsonb_build_object('$filter', 'name eq ''subject 2''')"
                ", url = url || '&$filter=name%20eq%20%27subject%202%27'"
                " WHERE endpoint_path = '/subjects'"
            )
        )


def _screen_text(app: Any) -> str:
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


async def _open_subjects_200(app: Any, pilot: Any) -> RequestDetailScreen:
    await loaded(pilot)
    app.action_audit("endpoint:subjects status:200")
    await settle(pilot)
    await pilot.press("enter", "enter")  # the filter is applied, then the row opens
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, RequestDetailScreen) and screen.request is not None
    return screen


async def test_read_only_request_detail_and_curl_show_fingerprints_only(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    seed_redacted(database)
    app = make_app(
        Settings(database_url=db_url),
        database,
        read_only=True,
        redaction_key=KEY,
        clock=lambda: FROZEN,
        live=False,
        db_label="test-db",
    )
    async with app.run_test(size=(160, 60)) as pilot:
        screen = await _open_subjects_200(app, pilot)
        assert screen.request is not None
        opened = screen.request["response_id"]
        shown: list[str] = []
        for tab in ("request", "response", "validation", "timing"):
            screen.query_one("#request-tabs").active = f"tab-{tab}"  # type: ignore[attr-defined]
            await settle(pilot)
            shown.append(_screen_text(app))
            shown.append(str(screen.query_one(f"#body-{tab}", Static).render()))
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        await pilot.press("y")
        await settle(pilot)
        screen.action_back()
        await settle(pilot)
        await pilot.press("y")  # the audit browser's copy of the selected row
        await settle(pilot)
        shown.append(_screen_text(app))  # the audit browser's URLs
        audit = app.screen
        assert isinstance(audit, AuditScreen)
        assert await audit.export(tmp_path / "audit.jsonl") > 0
        shown.append(unquote((tmp_path / "audit.jsonl").read_text()))
    everything = "\n".join(shown + copied + [unquote(c) for c in copied])
    assert len(copied) == 2 and all(c.startswith("curl -X GET ") for c in copied)
    for name in NAMES:
        assert name not in everything
    assert KEY.decode() not in everything
    with database.engine.connect() as conn:
        body = conn.execute(
            text("SELECT body FROM cc_api_response_log WHERE id = :i"), {"i": opened}
        ).scalar_one()
    response = shown[3]
    assert "redacted for auditors: $.name" in response
    for item in body["items"]:
        assert item["name"] not in everything and fingerprint(KEY, item["name"]) in response
    mark = fingerprint(KEY, "subject 2")  # the filter's literal, the same fingerprint
    assert f"name eq '{mark}'" in shown[0]  # the request tab, as rendered
    assert all(mark in unquote(c) for c in copied)  # the URL's filter, percent-encoded


async def test_the_operators_console_shows_the_values(database: Database, db_url: str) -> None:
    seed_redacted(database)
    app = make_app(
        Settings(database_url=db_url),
        database,
        redaction_key=KEY,  # not read-only: the key is not used
        clock=lambda: FROZEN,
        live=False,
        db_label="test-db",
    )
    async with app.run_test(size=(160, 60)) as pilot:
        screen = await _open_subjects_200(app, pilot)
        screen.query_one("#request-tabs").active = "tab-response"  # type: ignore[attr-defined]
        await settle(pilot)
        assert "subject 1" in str(screen.query_one("#body-response", Static).render())


def test_read_only_request_detail_snapshot(
    snap_compare: Any, database: Database, db_url: str
) -> None:
    seed_redacted(database)
    app = make_app(
        Settings(database_url=db_url),
        database,
        read_only=True,
        redaction_key=KEY,
        clock=lambda: FROZEN,
        live=False,
        db_label="test-db",
    )

    async def run_before(pilot: Any) -> None:
        screen = await _open_subjects_200(app, pilot)
        screen.query_one("#request-tabs").active = "tab-response"  # type: ignore[attr-defined]
        await settle(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
