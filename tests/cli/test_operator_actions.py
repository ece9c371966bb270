"""Who did what: every operator action of the CLI is recorded once, with who asked and the ids
involved, and `audit actions` reads them back."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import create_engine, text

from tests.engine.test_cli_sync import setup_tenant
from tests.store.test_schema import insert_run


def actions(cli, *args: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    result = cli("audit", "actions", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return list(reversed(json.loads(result.stdout)))  # oldest first


def one(db_url: str, sql: str) -> object:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar_one()
    engine.dispose()
    return value


def test_every_cli_action_is_recorded_once(cli, simulator, monkeypatch, db_url) -> None:  # type: ignore[no-untyped-def]
    setup_tenant(cli, simulator, monkeypatch)  # config add, template add ×2
    assert cli("config", "edit", "sim", "--page-size", "50").exit_code == 0
    assert cli("config", "deactivate", "sim").exit_code == 0
    assert cli("config", "activate", "sim").exit_code == 0
    assert cli("sync", "-t", "sites").exit_code == 0
    run_id = str(one(db_url, "SELECT id FROM cc_sync_run"))
    assert cli("retry", run_id).exit_code == 0
    assert cli("sync", "-t", "elements", "--enqueue").exit_code == 0
    config_id = one(db_url, "SELECT id FROM cc_api_client_config")
    template_id = one(db_url, "SELECT id FROM cc_odata_query_template WHERE name = 'sites'")
    engine = create_engine(db_url)
    with engine.begin() as conn:
        running = insert_run(conn, config_id, template_id=template_id, status="running")
    engine.dispose()
    assert cli("cancel", str(running)).exit_code == 0
    assert cli("template", "remove", "elements", "--yes").exit_code == 0
    assert cli("db", "maintain", "--dry-run").exit_code == 0  # changes nothing: no action
    assert cli("db", "maintain").exit_code == 0

    recorded = actions(cli)
    assert [a["action"] for a in recorded] == [
        "config_add",
        "template_add",
        "template_add",
        "config_edit",
        "config_deactivate",
        "config_activate",
        "sync",
        "retry",
        "sync",
        "cancel",
        "template_remove",
        "maintain",
    ]
    assert {(a["os_user"], a["source"]) for a in recorded} == {("tester", "cli")}
    assert all(a["db_role"] and a["host"] for a in recorded)
    assert recorded[3]["detail"] == {"changed": ["default_page_size"]}
    sync, retry, queued, cancel = recorded[6], recorded[7], recorded[8], recorded[9]
    assert sync["template"] == "sites" and sync["run_id"] is None
    # the run each started points at its action; the retry is about the run it redid
    started = one(db_url, f"SELECT count(*) FROM cc_sync_run WHERE action_id = '{sync['id']}'")
    assert started == 1
    assert retry["run_id"] == run_id
    assert queued["job_id"] is not None and queued["detail"]["queued"] is True
    assert cancel["run_id"] == str(running) and cancel["detail"]["flagged"] is True
    assert Counter(a["action"] for a in actions(cli, "--run", run_id)) == {"sync": 1, "retry": 1}
    assert [a["action"] for a in actions(cli, "--action", "cancel")] == ["cancel"]
    assert len(actions(cli, "--since", "1h")) == len(recorded)


def test_audit_actions_says_what_is_wrong(cli) -> None:  # type: ignore[no-untyped-def]
    empty = cli("audit", "actions")
    assert empty.exit_code == 0 and "no operator actions recorded" in empty.stdout
    bad = cli("audit", "actions", "--action", "explode")
    assert bad.exit_code == 2 and "unknown 'explode'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert cli("audit", "actions", "--since", "soon").exit_code == 2
