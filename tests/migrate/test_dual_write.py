"""Dual-write: a config mirrors every attempt to the legacy table; verify accepts the rows."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.simulator_fixture import SMALL
from tests.tenant import KEY_ENV, SIM_KEY

DEAD_LEGACY = "postgresql://nobody@127.0.0.1:1/legacy"


def legacy_rows(url: str) -> list[Any]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT client_name, url, request_headers, response_status, response_body"
            " FROM api_call_log ORDER BY id"
        ).fetchall()


def add_tenant(cli, simulator, monkeypatch, legacy_url: str, **sim: Any) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(KEY_ENV, SIM_KEY)
    running = simulator("clean", api_key=SIM_KEY, rate_limit={"enabled": False}, **sim)
    added = cli(
        "config",
        "add",
        "sim",
        "--base-url",
        running.running.api_url,
        "--secret-ref",
        f"env:{KEY_ENV}",
        "--page-size",
        "40",
        "--max-retries",
        "6",
        "--backoff-base",
        "0.01",
        "--backoff-max",
        "0.02",
        "--dual-write-legacy",
        "--legacy-url",
        legacy_url,
    )
    assert added.exit_code == 0, added.stderr
    assert cli("template", "add", "sim", "/patients/odata", "--name", "patients").exit_code == 0


def scalar(database: Any, sql: str) -> Any:
    from sqlalchemy import text

    with database.engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_every_attempt_is_mirrored_and_verify_accepts_it(
    cli, simulator, monkeypatch, empty_legacy, database
) -> None:  # type: ignore[no-untyped-def]
    add_tenant(
        cli, simulator, monkeypatch, empty_legacy, faults={"error_503_bare": 0.15, "reset": 0.05}
    )
    result = cli("sync", "-t", "patients", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["records"] == SMALL["patients"]
    requests = scalar(database, "SELECT count(*) FROM cc_api_request_log")
    assert summary["legacy_writes"] == requests and summary["legacy_write_failures"] == 0
    rows = legacy_rows(empty_legacy)
    assert len(rows) == requests > summary["pages"]  # the retried attempts came across too
    assert {r[0] for r in rows} == {"cc-console/sim"}
    assert {r[3] for r in rows} >= {200, 503}
    assert all(SIM_KEY not in (r[2] or "") for r in rows)  # headers masked, as in Bronze
    assert all(json.loads(r[2])["x-apikey"].startswith("***sha256:") for r in rows)
    report = cli("migrate", "verify", "--from", empty_legacy, "--config", "sim", "--json")
    assert report.exit_code == 0, report.stdout
    data = json.loads(report.stdout)
    assert data["parity"] and data["dual_written"] == {
        "legacy_rows": requests,
        "new_requests": requests,
    }
    assert data["sampled"] == requests  # fewer rows than the sample: every payload compared
    # the backfill leaves mirrored rows alone: they are already in the new tables
    backfill = cli("migrate", "backfill", "--from", empty_legacy, "--config", "sim", "--json")
    assert backfill.exit_code == 0 and json.loads(backfill.stdout)["read"] == 0


def test_a_lost_mirror_row_breaks_parity(cli, simulator, monkeypatch, empty_legacy) -> None:  # type: ignore[no-untyped-def]
    add_tenant(cli, simulator, monkeypatch, empty_legacy)
    assert cli("sync", "-t", "patients").exit_code == 0
    with psycopg.connect(empty_legacy) as conn:
        conn.execute("DELETE FROM api_call_log WHERE id = (SELECT max(id) FROM api_call_log)")
    report = cli("migrate", "verify", "--from", empty_legacy, "--config", "sim", "--json")
    assert report.exit_code == 1
    kinds = {(m["source"], m["kind"]) for m in json.loads(report.stdout)["mismatches"]}
    assert ("dual_write", "count") in kinds


def test_a_dead_legacy_database_never_blocks_the_sync(
    cli, simulator, monkeypatch, database
) -> None:  # type: ignore[no-untyped-def]
    add_tenant(cli, simulator, monkeypatch, DEAD_LEGACY)
    result = cli("sync", "-t", "patients", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["records"] == SMALL["patients"]
    assert summary["legacy_writes"] == 0
    assert summary["legacy_write_failures"] == summary["requests"] > 0
    assert scalar(database, "SELECT count(*) FROM cc_silver_record") == SMALL["patients"]
    event = scalar(database, "SELECT message FROM cc_error_event WHERE kind = 'legacy_write'")
    assert event.startswith(f"{summary['requests']} of {summary['requests']} attempts not written")
    text_out = cli("sync", "-t", "patients").stdout
    assert "NOT written" in text_out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dual-write-legacy"], "dual_write_legacy needs legacy_url"),
        (["--legacy-url", "mysql://x@h/db"], "must be a postgresql:// URL"),
        (["--legacy-url", "postgresql://u:FAKE-PASSWORD@h/db"], "must not embed a password"),
        (["--legacy-url", "env:not a name"], "valid environment variable name"),
    ],
)
def test_bad_dual_write_settings_are_refused(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    base = ["config", "add", "t", "--base-url", "https://h.example/api", "--secret-ref", "env:K"]
    result = cli(*base, *args)
    assert result.exit_code == 2 and message in result.stderr
    assert "FAKE-PASSWORD" not in result.stderr + result.stdout


async def test_a_console_started_run_is_mirrored_and_verify_accepts_it(
    cli, simulator, monkeypatch, empty_legacy, database, db_url
) -> None:  # type: ignore[no-untyped-def]
    """The console starts the follower as `sync` does, and waits for it when the run ends."""
    import time

    from cc_console.commands.console import run_companions
    from cc_console.settings import Settings
    from cc_console.store.templates import ActiveTemplate
    from cc_console.tui import make_app
    from tests.tui.conftest import loaded

    add_tenant(cli, simulator, monkeypatch, empty_legacy, faults={"error_503_bare": 0.15})
    template_id = scalar(database, "SELECT id FROM cc_odata_query_template")
    app = make_app(
        Settings(database_url=db_url), database, db_label="test-db", companions=run_companions
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot)
        app.start_sync_of(
            ActiveTemplate(template_id, "patients", "/patients/odata", {}, "sim", False)
        )
        # no worker is alive: it starts here (after that check), and leaves the list once
        # the run and the follower's catch-up end
        deadline = time.monotonic() + 10
        while not app.console_runs:
            assert time.monotonic() < deadline, "the console never started the run"
            await pilot.pause(0.02)
        deadline = time.monotonic() + 60
        while app.console_runs:
            assert time.monotonic() < deadline, "the console's run never ended"
            await pilot.pause(0.05)
    requests = scalar(database, "SELECT count(*) FROM cc_api_request_log")
    run = scalar(database, "SELECT legacy_writes || '/' || legacy_write_failures FROM cc_sync_run")
    why = scalar(database, "SELECT string_agg(kind || ': ' || message, '; ') FROM cc_error_event")
    assert run == f"{requests}/0", why
    assert len(legacy_rows(empty_legacy)) == requests > 0
    report = cli("migrate", "verify", "--from", empty_legacy, "--config", "sim", "--json")
    assert report.exit_code == 0, report.stdout
    assert json.loads(report.stdout)["dual_written"] == {
        "legacy_rows": requests,
        "new_requests": requests,
    }
