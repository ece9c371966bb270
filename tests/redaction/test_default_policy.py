"""A Clinical Conductor template on person data starts redacted for auditors: the names and
birth dates a sync lands appear nowhere in the auditor's views (the export and the console use
the same policy: test_end_to_end.py); a policy an
operator set stays; resources without person data, and other dialects, get none."""

from __future__ import annotations

import json
from typing import Any

from cc_console.redaction import Policy
from cc_console.redaction_defaults import default_policy_paths
from tests.redaction import rows_at
from tests.tenant import KEY_ENV, SIM_KEY


def _config(cli: Any, simulator: Any, monkeypatch: Any, tmp_path: Any, *args: str) -> None:
    monkeypatch.setenv(KEY_ENV, SIM_KEY)
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "data"))
    running = simulator("clean", api_key=SIM_KEY, rate_limit={"enabled": False})
    added = cli("config", "add", "sim", "--base-url", running.running.api_url, "--secret-ref",
                f"env:{KEY_ENV}", "--page-size", "100", *args)  # fmt: skip
    assert added.exit_code == 0, added.stderr


def _policies(cli: Any) -> dict[str, list[str]]:
    shown = cli("audit", "redact", "show", "--json")
    assert shown.exit_code == 0, shown.stderr
    return {p["resource_path"]: p["paths"] for p in json.loads(shown.stdout)["policies"]}


def test_person_data_starts_redacted(cli: Any, simulator: Any, monkeypatch: Any, db_url: str,
                                     tmp_path: Any) -> None:  # fmt: skip
    _config(cli, simulator, monkeypatch, tmp_path)
    added = cli("template", "add", "sim", "/subjects/odata", "--name", "subjects")
    assert added.exit_code == 0 and "auditors see its person data as fingerprints" in added.stdout
    assert cli("template", "add", "sim", "/patients/odata", "--name", "patients").exit_code == 0
    assert cli("template", "add", "sim", "/sites/odata", "--name", "sites").exit_code == 0
    policies = _policies(cli)
    assert sorted(policies) == ["/patients/odata", "/subjects/odata"]  # sites: no person data
    assert {"$..firstName", "$..dateOfBirth", "$.patient.name", "$..FirstName"} <= set(
        policies["/subjects/odata"]
    )
    actions = rows_at(db_url, "SELECT detail FROM cc_operator_action WHERE action = 'redact_set'")
    assert [a.detail["default"] for a in actions] == [True, True]
    for name in ("subjects", "patients"):
        assert cli("sync", "-t", name).exit_code == 0
    rows = rows_at(db_url, "SELECT resource_path, payload FROM cc_silver_record")
    people = {r.payload["patient"]["name"] for r in rows if r.resource_path == "/subjects"}
    for field in ("firstName", "lastName", "dateOfBirth"):
        people |= {r.payload[field] for r in rows if r.resource_path == "/patients"}
    people.discard(None)
    assert len(people) > 30
    seen = " ".join(
        str(r.body) for r in rows_at(db_url, "SELECT body FROM cc_audit_redacted.response_log")
    )
    assert "‹redacted:hmac:" in seen
    leaked = [value for value in people if f"'{value}'" in seen]
    assert not leaked, leaked[:5]


def test_an_operators_policy_stays(cli: Any, simulator: Any, monkeypatch: Any,
                                   tmp_path: Any) -> None:  # fmt: skip
    _config(cli, simulator, monkeypatch, tmp_path)
    assert cli("audit", "redact", "set", "sim", "/patients/odata", "$.mrn").exit_code == 0
    added = cli("template", "add", "sim", "/patients/odata")
    assert added.exit_code == 0 and "fingerprints" not in added.stdout
    assert _policies(cli) == {"/patients/odata": ["$.mrn"]}


def test_which_resources_get_a_default() -> None:
    scoped = default_policy_paths("clinical-conductor", "/studies/7/subjects/odata")
    assert scoped == default_policy_paths("clinical-conductor", "/subjects/odata")
    assert set(Policy(scoped).paths) == set(scoped)  # every path is one the grammar takes
    assert "$.subject.name" in default_policy_paths("clinical-conductor", "/patient-visits/odata")
    for dialect, path in [("odata4", "/subjects/odata"), ("generic", "/patients"),
                          ("clinical-conductor", "/sites/odata"),
                          ("clinical-conductor", "/elements/odata")]:  # fmt: skip
        assert default_policy_paths(dialect, path) == ()
