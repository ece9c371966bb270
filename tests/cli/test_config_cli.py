"""``cc-console config``: validation, idempotence, JSON output, audit fields, exit codes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FAKE_KEY

URL = "https://tenant.example.test/CCSWeb/api/v1"


def add(cli, name: str = "t1", *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        "config", "add", name, "--base-url", URL, "--secret-ref", "env:CC_TEST_API_KEY", *extra
    )


def test_add_then_show_json_has_defaults_and_audit_fields(cli) -> None:  # type: ignore[no-untyped-def]
    result = add(cli)
    assert result.exit_code == 0, result.stderr
    shown = json.loads(cli("config", "show", "t1", "--json").stdout)
    assert shown["base_url"] == URL
    assert shown["auth_header"] == "X-ApiKey"
    assert shown["default_page_size"] == 100
    assert shown["created_by"] == shown["updated_by"] == "tester"
    assert shown["secret"]["resolves"] is True and len(shown["secret"]["fingerprint"]) == 8


def test_clinical_conductor_preset(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        "config",
        "add",
        "cc",
        "--preset",
        "clinical-conductor",
        "--base-url",
        "https://t.clinicalconductor.com",
        "--secret-ref",
        "env:CC_TEST_API_KEY",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    row = json.loads(result.stdout)
    assert row["auth_header"] == "CCAPIKey" and row["default_page_size"] == 1000
    missing_url = cli(
        "config", "add", "cc2", "--preset", "clinical-conductor", "--secret-ref", "env:X"
    )
    assert missing_url.exit_code == 2
    assert "/CCSWeb/api/v1" in missing_url.stderr


def test_duplicate_name_is_a_clear_error(cli) -> None:  # type: ignore[no-untyped-def]
    assert add(cli).exit_code == 0
    again = add(cli)
    assert again.exit_code == 2
    assert "already exists" in again.stderr and "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--page-size", "5000"], "default_page_size", id="page-size"),
        pytest.param(["--max-retries", "-1"], "max_retries", id="retries"),
        pytest.param(["--connect-timeout", "0"], "connect_timeout_s", id="timeout"),
        pytest.param(["--jitter", "wild"], "backoff_jitter", id="jitter"),
        pytest.param(["--backoff-base", "10", "--backoff-max", "1"], "backoff_max_s", id="backoff"),
        pytest.param(["--auth-header", "X Api Key"], "auth_header", id="header-name"),
    ],
)
def test_invalid_values_name_the_field(cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = add(cli, "bad", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(cli("config", "list", "--json").stdout) == []


@pytest.mark.parametrize("url", ["ftp://x.test", "not a url", "https://user:pw@x.test/api"])
def test_bad_base_url(cli, url: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("config", "add", "b", "--base-url", url, "--secret-ref", "env:X")
    assert result.exit_code == 2 and "base_url" in result.stderr
    assert "pw" not in result.stderr


def test_a_pasted_key_is_refused_and_never_echoed(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("config", "add", "p", "--base-url", URL, "--secret-ref", FAKE_KEY)
    assert result.exit_code == 2
    assert "reference" in result.stderr
    assert FAKE_KEY not in result.stderr + result.stdout


def test_edit_changes_only_given_fields_and_stamps_updated(cli) -> None:  # type: ignore[no-untyped-def]
    add(cli)
    before = json.loads(cli("config", "show", "t1", "--json").stdout)
    result = cli(
        "config", "edit", "t1", "--max-retries", "2", "--mask-header", "X-Trace-Token", "--json"
    )
    assert result.exit_code == 0, result.stderr
    after = json.loads(result.stdout)
    assert after["max_retries"] == 2 and after["masked_headers"] == ["x-trace-token"]
    assert after["read_timeout_s"] == before["read_timeout_s"]
    assert after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"]
    invalid = cli("config", "edit", "t1", "--page-size", "0")
    assert invalid.exit_code == 2
    assert json.loads(cli("config", "show", "t1", "--json").stdout)["default_page_size"] == 100
    nothing = cli("config", "edit", "t1")
    assert nothing.exit_code == 2 and "nothing to change" in nothing.stderr


def test_activate_and_deactivate(cli) -> None:  # type: ignore[no-untyped-def]
    add(cli)
    assert "now inactive" in cli("config", "deactivate", "t1").stdout
    assert "already inactive" in cli("config", "deactivate", "t1").stdout
    assert json.loads(cli("config", "list", "--active", "--json").stdout) == []
    assert "now active" in cli("config", "activate", "t1").stdout
    assert [c["name"] for c in json.loads(cli("config", "list", "--active", "--json").stdout)] == [
        "t1"
    ]


def test_unknown_config_exit_code_and_hint(cli) -> None:  # type: ignore[no-untyped-def]
    add(cli)
    result = cli("config", "show", "nope")
    assert result.exit_code == 3
    assert "no config named 'nope'" in result.stderr and "t1" in result.stderr


def test_show_reports_an_unresolvable_secret(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    add(cli)
    monkeypatch.delenv("CC_TEST_API_KEY")
    shown = cli("config", "show", "t1")
    assert shown.exit_code == 0
    assert "does not resolve" in shown.stdout and "CC_TEST_API_KEY" in shown.stdout


def test_list_human_output(cli) -> None:  # type: ignore[no-untyped-def]
    assert "no configs yet" in cli("config", "list").stdout
    add(cli, "alpha")
    add(cli, "beta")
    lines = cli("config", "list").stdout.splitlines()
    assert lines[0].split()[:2] == ["name", "base_url"]
    assert [line.split()[0] for line in lines[1:]] == ["alpha", "beta"]
