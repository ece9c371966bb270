"""`silver export` redacts what the policy reaches unless --no-redact (an operator action):
the values appear nowhere in the file, their fingerprints are the bodies' fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cc_console.redaction import fingerprint
from cc_console.settings import Settings
from cc_console.store.database import open_database
from tests.store.silver_seed import add_config, add_template, land

KEY_TEXT = "fake-export-redaction-key-000000000000"
KEY = KEY_TEXT.encode()
PATIENTS = [
    {"id": 1, "lastName": "Doe", "firstName": "Jane", "dateOfBirth": "1980-05-01",
     "contact": {"phone": "555-0101", "kind": "home"}, "status": "Active"},
    {"id": 2, "lastName": "Roe", "firstName": "Rick", "dateOfBirth": "1975-11-30",
     "contact": {"phone": "555-0199", "kind": "work"}, "status": "Active"},
]  # fmt: skip
SECRET_VALUES = ("Doe", "Roe", "1980-05-01", "1975-11-30", "555-0101", "555-0199")


@pytest.fixture
def patients(cli: Any, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("CC_REDACTION_KEY_REF", "env:CC_TEST_REDACTION_KEY")
    monkeypatch.setenv("CC_TEST_REDACTION_KEY", KEY_TEXT)
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "data"))
    database = open_database(Settings(database_url=db_url), migrate=False)
    config_id = add_config(database.engine, "site", "odata4")
    add_template(database.engine, config_id, "/Patients", ["id"])
    land(database.engine, config_id, "/Patients", PATIENTS, "id")
    assert cli("silver", "views").exit_code == 0
    yield database
    database.dispose()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_export_holds_fingerprints_only(cli: Any, patients: Any, fmt: str) -> None:
    done = cli(
        "audit", "redact", "set", "site", "/Patients", "$.lastName", "$.contact.phone",
        "$..dateOfBirth",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    result = cli("silver", "export", "site", "Patients", "--format", fmt, "--to", "-")
    assert result.exit_code == 0, result.stderr
    assert "redacted columns: " in result.stderr
    for value in SECRET_VALUES:
        assert value not in result.stdout
    for value in ("Doe", "1980-05-01", "555-0101"):
        assert fingerprint(KEY, value) in result.stdout  # the bodies' fingerprints
    assert "Jane" in result.stdout and "home" in result.stdout  # the rest as landed
    assert KEY_TEXT not in result.stdout + result.stderr
    if fmt == "jsonl":
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows[0]["contact"] == {"kind": "home", "phone": fingerprint(KEY, "555-0101")}


def test_no_redact_exports_the_values_and_is_recorded(cli: Any, patients: Any) -> None:
    assert cli("audit", "redact", "set", "site", "/Patients", "$.lastName").exit_code == 0
    result = cli("silver", "export", "site", "Patients", "--format", "jsonl", "--to", "-",
                 "--no-redact")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Doe" in result.stdout
    actions = json.loads(cli("audit", "actions", "--json").stdout)
    assert "export_unredacted" in {a["action"] for a in actions}


def test_without_a_policy_nothing_changes(cli: Any, patients: Any) -> None:
    result = cli("silver", "export", "site", "Patients", "--format", "csv", "--to", "-")
    assert result.exit_code == 0 and "Doe" in result.stdout
    assert "redacted" not in result.stderr
