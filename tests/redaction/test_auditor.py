"""`audit redact` and `db grant-auditor` end to end: the auditor role reads the logs only
through the redacting views, with the fingerprints Python computes, and never the key."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from cc_console.redaction import fingerprint, key_id
from cc_console.store.database import Database
from tests.redaction import rows_at
from tests.tui.seed import seed_console

KEY_TEXT = "fake-redaction-key-for-auditor-tests-0000000000000000"
KEY = KEY_TEXT.encode()


@pytest.fixture
def redact_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC_REDACTION_KEY_REF", "env:CC_TEST_REDACTION_KEY")
    monkeypatch.setenv("CC_TEST_REDACTION_KEY", KEY_TEXT)


def test_the_auditor_reads_the_redacting_views_and_nothing_else(
    cli: Any, database: Database, db_url: str, redact_env: None
) -> None:
    seed_console(database)
    role = f"cc_auditor_{uuid.uuid4().hex[:8]}"
    outputs: list[str] = []
    try:
        done = cli("audit", "redact", "set", "acme", "subjects", "$.name")
        outputs += [done.stdout, done.stderr]
        assert done.exit_code == 0, done.stderr
        granted = cli("db", "grant-auditor", role, "--json")
        outputs += [granted.stdout, granted.stderr]
        assert granted.exit_code == 0, granted.stderr
        report = json.loads(granted.stdout)
        assert report["created"] is True and "response_log" in report["views"]
        url = db_url.replace("postgres@", f"{role}@")
        bodies = [
            json.dumps(r.body, ensure_ascii=False)
            for r in rows_at(
                url,
                "SELECT s.body FROM cc_audit_redacted.response_log s"
                " JOIN cc_audit_redacted.request_log q ON q.id = s.request_id"
                " WHERE q.endpoint_path = '/subjects' AND s.body IS NOT NULL",
            )
        ]
        assert bodies and not any("subject " in b for b in bodies)
        assert fingerprint(KEY, "subject 1") in bodies[0]  # the same as Python's
        studies = rows_at(
            url,
            "SELECT body FROM cc_audit_redacted.response_log WHERE body::text LIKE '%studie 1%'",
        )
        assert studies  # a resource without a policy is shown as stored
        for table in ("cc_api_response_log", "cc_api_request_log", "cc_api_client_config",
                      "cc_silver_record", "cc_redaction_key", "cc_redaction_policy"):  # fmt: skip
            with pytest.raises(ProgrammingError, match="permission denied"):
                rows_at(url, f"SELECT 1 FROM {table} LIMIT 1")
        with pytest.raises(ProgrammingError, match="permission denied"):  # no fingerprint oracle
            rows_at(url, "SELECT cc_redaction.mark(to_jsonb('1980'::text))")
        # a policy change shows at once: the views read the policy
        cleared = cli("audit", "redact", "clear", "acme", "/subjects")
        assert cleared.exit_code == 0, cleared.stderr
        plain = rows_at(url, "SELECT body::text AS b FROM cc_audit_redacted.response_log")
        assert any("subject 1" in (r.b or "") for r in plain)
        assert cli("audit", "redact", "clear", "acme", "/subjects").exit_code == 2
        shown = cli("audit", "redact", "show", "--json")
        outputs += [shown.stdout, shown.stderr]
        assert json.loads(shown.stdout)["database_key_id"] == key_id(KEY)
        actions = cli("audit", "actions", "--json")
        assert {"redact_set", "redact_clear", "grant_auditor"} <= {
            a["action"] for a in json.loads(actions.stdout)
        }
        again = cli("db", "grant-auditor", role)
        outputs += [again.stdout, again.stderr]
        assert again.exit_code == 0 and "role " + role in again.stdout
        assert cli("db", "grant-auditor", "postgres").exit_code == 2
    finally:
        with database.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
    assert not any(KEY_TEXT in o for o in outputs)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        pytest.param(["acme", "/subjects", "lastName"], 2, "start with $", id="bad-path"),
        pytest.param(["acme", "/subjects", "$.a[0]"], 2, "unexpected '[0]'", id="index"),
        pytest.param(["nope", "/subjects", "$.name"], 3, "no config named 'nope'", id="config"),
    ],
)
def test_redact_set_refuses_in_one_line(
    cli: Any, database: Database, redact_env: None, args: list[str], code: int, says: str
) -> None:
    seed_console(database)
    result = cli("audit", "redact", "set", *args)
    assert result.exit_code == code and says in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_default_key_file_is_created_private_and_never_printed(
    cli: Any, database: Database, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_console(database)
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "data"))
    done = cli("audit", "redact", "set", "acme", "/subjects", "$.name")
    assert done.exit_code == 0, done.stderr
    path = tmp_path / "data" / "redaction.key"
    assert path.stat().st_mode & 0o777 == 0o600
    key = path.read_text().strip()
    assert len(key) == 64 and key not in done.stdout + done.stderr
    with database.engine.connect() as conn:
        stored = conn.execute(text("SELECT key_id, ipad, opad FROM cc_redaction_key")).one()
    assert stored.key_id == key_id(key.encode()) and key.encode() not in stored.ipad + stored.opad
    shown = cli("audit", "redact", "show")
    assert "the auditor's views use the same key" in shown.stdout and key not in shown.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "redact"],
        ["audit", "redact", "set"],
        ["audit", "redact", "show"],
        ["audit", "redact", "clear"],
        ["db", "grant-auditor"],
    ],  # fmt: skip
    ids="-".join,
)
def test_help(cli: Any, args: list[str]) -> None:
    result = cli(*args, "--help")
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_audit_search_redacts_filter_literals_unless_told(
    cli: Any, database: Database, redact_env: None, tmp_path: Any
) -> None:
    seed_console(database)
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_api_request_log SET query_params = query_params"
                " || jsonb_build_object('$filter', 'name eq ''subject 2''')"
                ", url = url || '&$filter=name%20eq%20%27subject%202%27'"
                " WHERE endpoint_path = '/subjects'"
            )
        )
    assert cli("audit", "redact", "set", "acme", "/subjects", "$.name").exit_code == 0
    found = cli("audit", "search", "endpoint:subjects since:60d", "--json")
    assert found.exit_code == 0, found.stderr
    assert "subject 2" not in unquote(found.stdout)
    assert fingerprint(KEY, "subject 2") in unquote(found.stdout)
    exported = cli(
        "audit", "search", "endpoint:subjects since:60d", "--export", str(tmp_path / "a.jsonl")
    )
    assert exported.exit_code == 0, exported.stderr
    assert "subject 2" not in unquote((tmp_path / "a.jsonl").read_text())
    told = cli("audit", "search", "endpoint:subjects since:60d", "--json", "--no-redact")
    assert "subject 2" in unquote(told.stdout)
