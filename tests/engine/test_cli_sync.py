"""``cc-console sync / runs / resume / retry / cancel`` end to end, in-process."""

from __future__ import annotations

import json

from tests.simulator_fixture import SMALL
from tests.tenant import KEY_ENV, SIM_KEY


def setup_tenant(cli, simulator, monkeypatch, profile="clean", **sim):  # type: ignore[no-untyped-def]
    """A config and two templates, added as the README says; ``vendor``: a tenant's contract."""
    monkeypatch.setenv(KEY_ENV, SIM_KEY)
    running = simulator(profile, api_key=SIM_KEY, rate_limit={"enabled": False}, **sim)
    preset = ["--preset", "clinical-conductor"] if profile == "vendor" else []
    assert (
        cli(
            "config",
            "add",
            "sim",
            *preset,
            "--base-url",
            running.running.api_url,
            "--secret-ref",
            f"env:{KEY_ENV}",
            "--page-size",
            "40",
            "--max-retries",
            "0",
        ).exit_code
        == 0
    )
    assert cli("template", "add", "sim", "/sites/odata", "--name", "sites").exit_code == 0
    assert cli("template", "add", "sim", "/elements/odata", "--name", "elements").exit_code == 0
    return running


def test_sync_json_and_runs(cli, simulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    setup_tenant(cli, simulator, monkeypatch, profile="vendor")  # CCAPIKey, from the preset
    result = cli("sync", "-t", "sites", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "succeeded" and summary["records"] == SMALL["sites"]
    assert summary["reconciled"] is None  # the vendor serves sites as a bare array: no count
    both = cli("sync", "--all-active", "--json")
    assert both.exit_code == 0 and len(json.loads(both.stdout)) == 2
    runs = json.loads(cli("runs", "--json").stdout)
    assert len(runs) == 3 and {r["status"] for r in runs} == {"succeeded"}
    text_out = cli("sync", "-t", "elements").stdout
    assert "succeeded" in text_out
    n = SMALL["elements"]
    assert f"{n} landed (0 new, 0 changed, {n} unchanged) of {n} counted (reconciled)" in text_out


def test_failed_sync_exits_1_then_resume_and_retry(cli, simulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    running = setup_tenant(cli, simulator, monkeypatch, faults={"malformed": 1.0})
    failed = cli("sync", "-t", "elements", "--json")
    assert failed.exit_code == 1
    run_id = json.loads(failed.stdout)["run_id"]
    assert json.loads(failed.stdout)["status"] == "failed"
    running.running.server.config.app.state.simulator.injector.table = []  # the fault clears
    resumed = cli("resume", run_id[:8], "--json")
    assert resumed.exit_code == 0, resumed.stderr
    body = json.loads(resumed.stdout)
    assert body["trigger"] == "resume" and body["records"] == SMALL["elements"]
    again = cli("retry", run_id, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["trigger"] == "retry"
    assert "already failed" in cli("cancel", run_id).stdout


def test_usage_errors(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("sync").exit_code == 2
    assert cli("sync", "-t", "nope").exit_code == 3
    assert cli("resume", "ffffffff").exit_code == 3
    assert cli("sync", "--all-active").exit_code == 2


def test_resume_by_template(cli, simulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    running = setup_tenant(cli, simulator, monkeypatch, faults={"html": 1.0})
    assert cli("sync", "-t", "sites").exit_code == 1
    running.running.server.config.app.state.simulator.injector.table = []
    resumed = cli("resume", "--template", "sites", "--json")
    assert resumed.exit_code == 0 and json.loads(resumed.stdout)["status"] == "succeeded"
    assert cli("resume").exit_code == 2
    assert cli("resume", "--template", "elements").exit_code == 3  # never ran
