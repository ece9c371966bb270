"""A real sync of patients from the simulator, under a policy: one value has one fingerprint
in the auditor's views, the read-only console's redaction, copy-as-curl and the export, and
the values themselves appear in none of them."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import unquote

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cc_console.redaction import Redactor, fingerprint
from cc_console.store.details import as_curl
from cc_console.store.redaction import load_policies
from tests.redaction import rows_at
from tests.tenant import KEY_ENV, SIM_KEY

KEY_TEXT = "fake-end-to-end-redaction-key-000000000"
KEY = KEY_TEXT.encode()
PATHS = ("$.firstName", "$.lastName", "$.displayName", "$..dateOfBirth", "$.mrn",
         "$.primaryEmail.email")  # fmt: skip


def test_one_value_one_fingerprint_everywhere(cli: Any, simulator: Any, monkeypatch: Any,
                                              db_url: str, tmp_path: Any) -> None:  # fmt: skip
    monkeypatch.setenv(KEY_ENV, SIM_KEY)
    monkeypatch.setenv("CC_REDACTION_KEY_REF", "env:CC_TEST_REDACTION_KEY")
    monkeypatch.setenv("CC_TEST_REDACTION_KEY", KEY_TEXT)
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "data"))
    running = simulator("clean", api_key=SIM_KEY, rate_limit={"enabled": False})
    assert cli("config", "add", "sim", "--base-url", running.running.api_url, "--secret-ref",
               f"env:{KEY_ENV}", "--page-size", "100").exit_code == 0  # fmt: skip
    assert cli("template", "add", "sim", "/patients/odata", "--name", "patients").exit_code == 0
    assert cli("audit", "redact", "set", "sim", "/patients/odata", *PATHS).exit_code == 0
    assert cli("sync", "-t", "patients").exit_code == 0
    role = f"cc_auditor_{uuid.uuid4().hex[:8]}"
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        assert cli("db", "grant-auditor", role).exit_code == 0
        with engine.connect() as conn:
            payloads = [r[0] for r in conn.execute(text("SELECT payload FROM cc_silver_record"))]
            request = dict(
                conn.execute(
                    text(
                        "SELECT q.*, s.body AS response_body, s.body_text AS response_text,"
                        " c.auth_header, c.auth_scheme, c.secret_ref FROM cc_api_request_log q"
                        " JOIN cc_api_response_log s ON s.request_id = q.id"
                        " AND s.sent_at = q.sent_at JOIN cc_api_client_config c"
                        " ON c.id = q.config_id ORDER BY q.sent_at LIMIT 1"
                    )
                )
                .mappings()
                .one()
            )
            console = Redactor(KEY, load_policies(conn)).request(request)
        first = next(p for p in payloads if p["id"] == 1)
        secrets = [p["mrn"] for p in payloads] + [p["dateOfBirth"] for p in payloads]
        auditor = rows_at(
            db_url.replace("postgres@", f"{role}@"),
            "SELECT body::text FROM cc_audit_redacted.response_log WHERE body IS NOT NULL",
        )
        assert cli("silver", "views").exit_code == 0
        export = cli("silver", "export", "sim", "patients", "--format", "jsonl", "--to", "-")
        assert export.exit_code == 0, export.stderr
        places = {
            "auditor view": "\n".join(r[0] for r in auditor),
            "read-only console": json.dumps(console["response_body"], ensure_ascii=False),
            "copy-as-curl": unquote(as_curl(console)),
            "silver export": export.stdout,
        }
        for place, shown in places.items():
            assert not [s for s in secrets if s in shown], place
            assert KEY_TEXT not in shown, place
        mark = fingerprint(KEY, first["lastName"])
        for place in ("auditor view", "read-only console", "silver export"):
            assert mark in places[place], place
        row = next(json.loads(line) for line in export.stdout.splitlines()
                   if json.loads(line)["id"] == 1)  # fmt: skip
        assert row["last_name"] == mark and row["mrn"] == fingerprint(KEY, first["mrn"])
        assert row["first_name"] == fingerprint(KEY, first["firstName"])
        assert row["date_of_birth"] == fingerprint(KEY, first["dateOfBirth"]), first["dateOfBirth"]
        assert "https://" in places["copy-as-curl"] or "http://" in places["copy-as-curl"]
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        engine.dispose()
