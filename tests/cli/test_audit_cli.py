"""``audit search``: the console's filter language and keyset paging on the command line —
every row once across pages, filters as in the console, and an export byte-identical to the
console's own."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import text

from cc_console.settings import Settings
from cc_console.tui import make_app
from tests.tui.test_audit_pilot import open_audit, search

ROWS = 10_000


@pytest.fixture
def audit_log(database, cli):  # type: ignore[no-untyped-def]
    """10,000 requests over the last ~3 hours of the database's clock; every 7th a 503."""
    ref = ["--secret-ref", "env:CC_TEST_API_KEY"]
    assert (
        cli("config", "add", "c1", "--base-url", "https://api.example.test/v1", *ref).exit_code == 0
    )
    with database.engine.begin() as conn:
        now: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO cc_api_request_log (sent_at, config_id, method, url, endpoint_path)"
                " SELECT :now - make_interval(secs => i), c.id, 'GET',"
                " 'https://api.example.test/v1/patients/odata?$skip=' || i, '/patients/odata'"
                " FROM generate_series(1, :n) i, cc_api_client_config c"
            ),
            {"now": now, "n": ROWS},
        )
        conn.execute(
            text(
                "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code,"
                " headers, size_bytes, elapsed_ms, parse_ok) SELECT q.sent_at, q.id, q.sent_at,"
                " CASE WHEN row_number() OVER (ORDER BY q.sent_at) % 7 = 0 THEN 503 ELSE 200 END,"
                " '{}', 10, 5, true FROM cc_api_request_log q"
            )
        )
    return now


def test_paging_across_ten_thousand_rows_sees_each_once(cli, audit_log) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    after: list[str] = []
    pages = 0
    while True:
        result = cli("audit", "search", "since:1d", "--limit", "3000", "--json", *after)
        assert result.exit_code == 0, result.stderr
        page = json.loads(result.stdout)
        seen += [row["id"] for row in page["rows"]]
        pages += 1
        if page["next"] is None:
            break
        after = ["--after", page["next"]]
    assert pages == 4 and len(seen) == len(set(seen)) == ROWS


def test_filters_and_the_table(cli, audit_log) -> None:  # type: ignore[no-untyped-def]
    errors = cli("audit", "search", "status:5xx", "--limit", "100000", "--jsonl")
    lines = [json.loads(line) for line in errors.stdout.splitlines()]
    assert len(lines) == ROWS // 7 and {line["status_code"] for line in lines} == {503}
    shown = cli("audit", "search", "endpoint:patients", "--limit", "5")
    assert shown.exit_code == 0
    assert len(shown.stdout.strip().splitlines()) == 1 + 5  # the header and five rows
    assert "next: " in shown.stderr and "$skip=1" in shown.stdout  # the newest first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status:²"], "filter:"),
        (["since:1000000000d"], "filter:"),
        (["", "--after", "not-a-cursor"], "--after takes the cursor"),
        (["", "--json", "--jsonl"], "choose one of"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, audit_log, args, message) -> None:  # type: ignore[no-untyped-def]
    result = cli("audit", "search", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_the_export_is_byte_identical_to_the_consoles(
    cli, audit_log, database, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    exported = tmp_path / "cli.jsonl"
    result = await asyncio.to_thread(
        cli, "audit", "search", "status:5xx", "--export", str(exported)
    )
    assert result.exit_code == 0, result.stderr
    assert f"exported {ROWS // 7:,} rows to {exported}" in result.stderr
    app = make_app(Settings(database_url=db_url), database, clock=lambda: audit_log, live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_audit(pilot)
        await search(pilot, screen, "status:5xx")
        await screen.export(tmp_path / "console.jsonl")
    assert exported.read_bytes() == (tmp_path / "console.jsonl").read_bytes()
    assert len(exported.read_text().splitlines()) == ROWS // 7
