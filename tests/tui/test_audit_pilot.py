"""The audit browser: the filter language selects the right rows; export and curl keep secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cc_console.tui.screens.audit import AuditScreen

from .conftest import loaded


async def open_audit(pilot: Any) -> AuditScreen:
    await loaded(pilot)
    await pilot.press("a")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, AuditScreen)
    return screen


async def search(pilot: Any, screen: AuditScreen, query: str) -> list[dict[str, Any]]:
    box = screen.query_one("#audit-filter")
    box.value = query
    box.focus()
    await pilot.press("enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    assert screen.query_one("#audit-table").row_count == len(screen.rows)
    return screen.rows


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("", 11, id="everything-in-24h"),
        pytest.param("status:429", 2, id="status"),
        pytest.param("status:5xx", 1, id="status-class"),
        pytest.param("!status:200 endpoint:subjects", 2, id="negation-and-endpoint"),
        pytest.param("run:00000017", 4, id="run-prefix"),
        pytest.param("kind:http_401", 1, id="error-kind"),
        pytest.param("since:5m", 2, id="window"),
        pytest.param("skip=200", 2, id="free-text-in-url"),
    ],
)
async def test_filter_language_selects_the_right_rows(
    console_app, query: str, expected: int
) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        rows = await search(pilot, screen, query)
        assert len(rows) == expected
        if query == "status:429":
            assert {r["status_code"] for r in rows} == {429}
        if query.startswith("!status:200"):
            assert all(r["endpoint_path"] == "/subjects" and r["status_code"] != 200 for r in rows)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        pytest.param("colour:red", "unknown key 'colour'", id="unknown-key"),
        pytest.param("since:1000000000d", "expected a duration", id="overflowing-duration"),
        pytest.param("since:100000000d", "at most 3660d", id="huge-duration"),
        pytest.param("status:²", "status is a code", id="superscript-digit"),
        pytest.param("run:" + "a" * 36, "a run id is 4 to 32 hex digits", id="run-36-hex"),
        pytest.param("since:1h until:2h", "window is empty", id="empty-window"),
    ],
)
async def test_a_bad_filter_says_why_and_keeps_the_rows_marked_stale(
    console_app, query: str, says: str
) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        before = list(await search(pilot, screen, "status:429"))
        await search(pilot, screen, query)
        assert app.is_running  # the console did not exit
        status = str(screen.query_one("#audit-status").render())
        assert says in status
        assert "previous filter (status:429)" in status and "stale" in status
        assert screen.rows == before


async def test_export_writes_the_filtered_rows_and_curl_reads_the_key_from_its_reference(
    console_app, tmp_path
) -> None:
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        rows = await search(pilot, screen, "endpoint:subjects")
        written = await screen.export(tmp_path / "audit.jsonl")
        lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
        assert written == len(lines) == len(rows) == 4
        assert {line["endpoint_path"] for line in lines} == {"/subjects"}
        assert all(
            re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", x["sent_at"]) for x in lines
        )
        await pilot.press("e")  # the key: into the data dir's exports/, and it says where
        await app.workers.wait_for_complete()
        (exported,) = app.exports_dir.glob("cc-audit-*.jsonl")
        assert exported.parent.name == "exports" and exported.parent.parent != Path.cwd()
        assert exported.read_text() == (tmp_path / "audit.jsonl").read_text()
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert copied and copied[0].startswith(
            "curl -X GET 'http://127.0.0.1:8765/api/v1/subjects?"
        )
        assert '"X-ApiKey: $CC_TEST_API_KEY"' in copied[0]  # read when the command runs
        assert "***" not in copied[0]


async def test_it_opens_with_the_filter_focused_so_typing_filters(console_app) -> None:  # type: ignore[no-untyped-def]
    app = console_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        box = screen.query_one("#audit-filter")
        assert box.has_focus
        box.value = ""
        await pilot.press(*"status:429", "enter")  # s and : would open the picker, the palette
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen and screen.query_text == "status:429"
        assert screen.rows and {row["status_code"] for row in screen.rows} == {429}
        assert screen.query_one("#audit-table").has_focus  # then the rows, to page and copy
        await pilot.press("slash")  # and / comes back to the filter
        assert box.has_focus
