"""Piped output is never cut: a table is as wide as its widest cell when stdout is no
terminal (a script, `| less`, `> file`), whatever the terminal around it measures."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.store.test_schema import insert_run

LONG_URL = "https://a-very-long-tenant-name.clinicalconductor.com/CCSWeb/api/v1/" + "x" * 60
LONG_NAME = "patient visits of every study across all sites, " + "n" * 40


@pytest.fixture
def seeded(cli, db_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("COLUMNS", raising=False)
    ref = ["--secret-ref", "env:CC_TEST_API_KEY"]
    assert cli("config", "add", "tenant", "--base-url", LONG_URL, *ref).exit_code == 0
    added = cli("template", "add", "tenant", "/patients/odata", "--name", LONG_NAME)
    assert added.exit_code == 0, added.stderr
    engine = create_engine(db_url)
    with engine.begin() as conn:
        config_id = conn.execute(text("SELECT id FROM cc_api_client_config")).scalar_one()
        insert_run(conn, config_id, status="partial", message="m" * 150)
    engine.dispose()
    return cli


@pytest.mark.parametrize(
    ("args", "whole"),
    [
        (["config", "list"], LONG_URL),
        (["template", "list"], LONG_NAME),
        (["template", "show", LONG_NAME], LONG_NAME),
        (["runs"], "partial"),
        (["silver", "views"], "silver.tenant__patients"),
        (["audit", "actions"], LONG_NAME),  # the template it added, by name
    ],
    ids=["config-list", "template-list", "template-show", "runs", "silver-views", "actions"],
)
def test_every_list_prints_whole_cells_when_piped(seeded, args, whole) -> None:  # type: ignore[no-untyped-def]
    result = seeded(*args)
    assert result.exit_code == 0, result.stderr
    assert whole in result.stdout
    assert "…" not in result.stdout


def test_db_status_counts_the_rows_of_small_tables(seeded) -> None:  # type: ignore[no-untyped-def]
    result = seeded("db", "status", "--json")
    assert result.exit_code == 0, result.stderr
    import json

    tables = {t["name"]: t for t in json.loads(result.stdout)["tables"]}
    assert tables["cc_api_client_config"]["rows"] == 1  # no ANALYZE ran: the estimate says 0
    assert tables["cc_api_client_config"]["rows_exact"] is True
    assert tables["cc_odata_query_template"]["rows"] == 1
    assert tables["cc_sync_run"]["rows"] == 1
    shown = seeded("db", "status").stdout
    assert "rows (est.)" not in shown
