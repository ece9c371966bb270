"""An archived-then-dropped month: its manifest holds the chains' heads, the live trail counts
its chains as archived, and once restored the month is proved — or its edit is found."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from cc_console.client.seal_key import load_seal_key
from cc_console.settings import load_settings
from cc_console.store.audit_chain import link_batch
from cc_console.store.audit_seal import seal_in
from cc_console.store.database import Database
from tests.store.test_archive import NOW, _seeded
from tests.store.test_schema import insert_config

OLD = datetime(NOW.year, NOW.month, 1, tzinfo=UTC) - timedelta(days=140)  # months back


def _sealed_batch(database: Database, calls: int) -> uuid.UUID:
    """A backfill-like batch of ``calls`` old requests with responses, chained and sealed."""
    chain = uuid.uuid4()
    with database.engine.begin() as conn:
        config = insert_config(conn, name="old")
        requests, responses = [], []
        for n in range(calls):
            sent = OLD + timedelta(hours=n)
            request = conn.execute(
                text(
                    "INSERT INTO cc_api_request_log (sent_at, config_id, method, url,"
                    " endpoint_path, chain_id) VALUES (:s, :c, 'GET',"
                    " 'https://api.example.test/x', '/x', :chain) RETURNING id"
                ),
                {"s": sent, "c": config, "chain": chain},
            ).scalar_one()
            response = conn.execute(
                text(
                    "INSERT INTO cc_api_response_log (sent_at, request_id, received_at,"
                    " status_code, body, elapsed_ms, chain_id) VALUES (:s, :q, :s, 200,"
                    " CAST(:b AS jsonb), 1.25, :chain) RETURNING id"
                ),
                {"s": sent, "q": request, "b": json.dumps({"value": [{"n": n}]}), "chain": chain},
            ).scalar_one()
            requests.append((request, sent))
            responses.append((response, sent))
        link_batch(conn, "request", chain, config, requests)
        link_batch(conn, "response", chain, config, responses)
        seal_in(conn, chain, load_seal_key(load_settings()), "backfill", config, None)
    return chain


def test_an_archived_month_restores_and_is_proved(
    cli, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _seeded(database)
    chain = _sealed_batch(database, 3)
    monkeypatch.setenv("CC_ARCHIVE_DIR", str(tmp_path / "archive"))
    before = cli("audit", "verify", "--json")
    assert before.exit_code == 0, before.stdout
    maintained = cli("db", "maintain", "--json")
    assert maintained.exit_code == 0, maintained.stderr
    month = f"{OLD:%Y-%m}"
    entry = next(a for a in json.loads(maintained.stdout)["archived"] if a["month"] == month)
    heads = {table: {c["chain_id"]: c for c in chains} for table, chains in entry["chains"].items()}
    assert heads["cc_api_response_log"][str(chain)]["last_seq"] == 3

    live = json.loads(cli("audit", "verify", "--json").stdout)
    assert live["ok"] and live["archived_chains"] == 1 and live["rows_proved"] == 0

    assert cli("audit", "restore", month).exit_code == 0
    restored = cli("audit", "verify", "--month", month, "--json")
    assert restored.exit_code == 0, restored.stdout
    report = json.loads(restored.stdout)
    assert report["ok"] and report["rows_proved"] == 6

    with database.engine.begin() as conn:
        edited = conn.execute(
            text(
                f"UPDATE cc_restore_{OLD:%Y_%m}.cc_api_response_log SET status_code = 204"
                " WHERE chain_seq = 2 RETURNING id"
            )
        ).scalar_one()
    tampered = cli("audit", "verify", "--month", month, "--json")
    assert tampered.exit_code == 1
    findings = json.loads(tampered.stdout)["findings"]
    assert [f["kind"] for f in findings] == ["link"] and str(edited) in findings[0]["message"]
    missing = cli("audit", "verify", "--month", "1999-01")
    assert missing.exit_code == 3 and "audit restore 1999-01" in missing.stderr
