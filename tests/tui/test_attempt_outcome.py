"""An attempt that died before any response shows how it died — the error kind, in red — in
Live requests and the audit browser, never ``…`` as if it were still in flight."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from sqlalchemy import text

from cc_console.engine import run_template
from cc_console.store.audit_log import recent_requests_view
from cc_console.store.audit_query import audit_page, parse_audit_filter
from cc_console.tui.components.panes import request_cells


async def test_a_connect_failure_shows_its_kind_not_in_flight(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(base_url="http://127.0.0.1:9/api/v1", max_retries=2)  # nothing listens on 9
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "failed" and summary.requests == 3
    now = t.scalar("SELECT clock_timestamp()")
    async with aengine.connect() as conn:
        rows = await recent_requests_view(conn, now - timedelta(hours=1), 10)
    assert len(rows) == 3 and {r["error_kind"] for r in rows} == {"connect"}
    cells = request_cells(rows[0], now)
    status, elapsed = cells[3], cells[4]
    assert isinstance(status, Text) and status.plain == "connect" and "red" in str(status.style)
    assert isinstance(elapsed, Text) and elapsed.plain == "—"

    with t.database.engine.connect() as conn:
        found, _ = audit_page(conn, parse_audit_filter("since:1h"), now=now)
        in_flight = conn.execute(
            text("INSERT INTO cc_api_request_log (sent_at, config_id, method, url, endpoint_path)"
                 " VALUES (clock_timestamp(), :c, 'GET', 'http://x/y', '/y') RETURNING id"),
            {"c": t.config_id},
        ).scalar_one()  # fmt: skip
        conn.commit()
        later = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        newest, _ = audit_page(conn, parse_audit_filter("since:1h"), now=later)
    assert {r["error_kind"] for r in found} == {"connect"}
    assert newest[0]["id"] == in_flight and newest[0]["error_kind"] is None
    shown = request_cells(newest[0], later)
    assert shown[3].plain == "…" and shown[4].plain == "…"  # truly in flight: no answer yet
