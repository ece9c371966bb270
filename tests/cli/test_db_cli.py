"""``cc-console db``: upgrade, status, downgrade guard, connection errors."""

from __future__ import annotations

import json

import pytest


def test_status_json_describes_the_database(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("db", "status", "--json")
    assert result.exit_code == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["embedded"] is False  # the test points CC_DATABASE_URL at its database
    assert status["server_version"].split(".")[0].isdigit()
    assert int(status["server_version"].split(".")[0]) >= 14
    assert status["schema_revision"] == status["schema_head"] and status["up_to_date"]
    names = {t["name"] for t in status["tables"]}
    assert len(names) == 19 and {"cc_audit_chain", "cc_audit_seal", "cc_audit_amendment"} <= names
    request_log = next(t for t in status["tables"] if t["name"] == "cc_api_request_log")
    assert request_log["partitions"] >= 5


def test_status_human_output(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("db", "status").stdout
    assert "PostgreSQL" in out and "up to date" in out and "cc_silver_record" in out


def test_upgrade_twice_says_already_at_head(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "already at" in result.stdout


def test_downgrade_needs_yes_then_upgrade_restores(cli) -> None:  # type: ignore[no-untyped-def]
    refused = cli("db", "downgrade")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert cli("db", "status", "--json").exit_code == 0
    done = cli("db", "downgrade", "--yes")
    assert done.exit_code == 0 and "-> base" in done.stdout
    assert json.loads(cli("db", "status", "--json").stdout)["tables"] == []
    up = cli("db", "upgrade")
    assert up.exit_code == 0 and "empty -> " in up.stdout


def test_unreachable_database_is_one_line_exit_2(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CC_DATABASE_URL", "postgresql://auditor:s3cr3t-pw@127.0.0.1:1/nowhere")
    result = cli("config", "list")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: cannot reach PostgreSQL at ")
    assert "auditor:***@127.0.0.1:1/nowhere" in lines[0]
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "CC_DATABASE_URL" in lines[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("mysql://u@h/db", "must point at PostgreSQL", id="mysql"),
        pytest.param("::nonsense::", "not a database URL", id="garbage"),
    ],
)
def test_bad_database_url(cli, monkeypatch, url: str, message: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CC_DATABASE_URL", url)
    result = cli("db", "status")
    assert result.exit_code == 2 and message in result.stderr


def test_invalid_setting_is_reported(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CC_LOG_LEVEL", "LOUD")
    result = cli("db", "status")
    assert result.exit_code == 2
    assert "CC_LOG_LEVEL" in result.stderr and "Traceback" not in result.stderr


def test_stop_refuses_an_external_database(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("db", "stop")
    assert result.exit_code == 2 and "CC_DATABASE_URL is set" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["db"],
        ["config"],
        ["template"],
        ["db", "maintain"],
        ["config", "add"],
        ["template", "add"],
        ["db", "status"],
        ["config", "edit"],
        ["template", "remove"],
    ],
    ids=lambda a: "-".join(a) or "root",
)
def test_every_command_has_help(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 3


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    from cc_console import __version__

    assert cli("--version").stdout.strip() == f"cc-console {__version__}"
