"""A bug ends the run ``failed`` with an ``internal`` event and the cause — its own engine
never leaves it ``running`` — and the CLI exits 1 with one line."""

from __future__ import annotations

import asyncio

import pytest

from cc_console.engine import run_template
from cc_console.engine.fetch import PageFetcher


@pytest.fixture
def broken_third_page(monkeypatch):  # type: ignore[no-untyped-def]
    """Preparing the third page raises what no code path expects."""
    real = PageFetcher.prepare
    calls = 0

    async def prepare(self, url: str):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyError("a bug: no such field")
        return await real(self, url)

    monkeypatch.setattr(PageFetcher, "prepare", prepare)


async def test_an_unexpected_exception_ends_the_run_failed(
    tenant, aengine, broken_third_page
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}}, default_page_size=50)
    summary = await run_template(aengine, t.template("/patients/odata"))
    assert summary.status == "failed"
    assert summary.message == "internal: unexpected KeyError: 'a bug: no such field'"
    events = t.rows("SELECT kind, message FROM cc_error_event WHERE run_id = :r", r=summary.run_id)
    assert [e.kind for e in events] == ["internal"] and "KeyError" in events[0].message
    assert t.scalar("SELECT status FROM cc_pagination_state") == "failed"
    assert t.scalar("SELECT owner_run_id FROM cc_pagination_state") is None  # lease given back
    assert t.scalar("SELECT count(*) FROM cc_sync_run WHERE status = 'running'") == 0


async def test_the_cli_says_it_in_one_line_and_exits_1(tenant, cli, broken_third_page) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}}, default_page_size=50)
    template = t.template("/patients/odata")
    result = await asyncio.to_thread(cli, "sync", "-t", str(template))
    assert result.exit_code == 1
    assert "failed" in result.stdout and "internal: unexpected KeyError" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
