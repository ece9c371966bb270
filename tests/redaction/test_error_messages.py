"""A server's error may echo the filter that named a patient: for a resource with a policy,
the read-only console (Errors pane, run detail) and the auditor's view show the message's
quoted literals as fingerprints; other resources, and the operator's console, as stored."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from cc_console.redaction import Policy, fingerprint
from cc_console.store.dashboard import load_dashboard
from cc_console.store.database import Database
from cc_console.store.details import load_run
from cc_console.store.redaction import install_key, set_policy
from tests.tui.seed import CONFIG, FROZEN, RUN_PARTIAL, seed_console

KEY = b"fake-error-message-redaction-key-000000"
ECHO = "HTTP 400: the query is not valid: name eq 'O''Neill, Ann' and status eq 'Active'"


def _seed(database: Database) -> None:
    seed_console(database)
    with database.engine.begin() as conn:
        set_policy(conn, CONFIG, "/subjects", Policy(("$.name",)), "tester")
        install_key(conn, KEY, "tester")
        for endpoint, message in (("/subjects", ECHO), ("/sites", "HTTP 400: bad 'value'")):
            conn.execute(
                text(
                    "INSERT INTO cc_error_event (occurred_at, kind, retryable, status_code,"
                    " endpoint_path, message, config_id, run_id) VALUES (:at, 'http_400', false,"
                    " 400, :endpoint, :message, :config, :run)"
                ),
                {
                    "at": FROZEN + timedelta(seconds=1),
                    "endpoint": endpoint,
                    "message": message,
                    "config": CONFIG,
                    "run": RUN_PARTIAL,
                },
            )


SHOWN = (
    f"HTTP 400: the query is not valid: name eq '{fingerprint(KEY, 'O' + chr(39) + 'Neill, Ann')}'"
    f" and status eq '{fingerprint(KEY, 'Active')}'"
)


async def test_read_only_console_shows_echoed_literals_as_fingerprints(
    database: Database,
) -> None:
    _seed(database)
    engine = database.async_engine()
    try:
        async with engine.connect() as conn:
            shown = await load_dashboard(conn, now=FROZEN, redaction_key=KEY)
            plain = await load_dashboard(conn, now=FROZEN)
            run = await load_run(conn, RUN_PARTIAL, KEY)
    finally:
        await engine.dispose()
    messages = {
        e["endpoint_path"]: e["message"] for e in shown.errors.rows if e["status_code"] == 400
    }
    assert messages == {"/subjects": SHOWN, "/sites": "HTTP 400: bad 'value'"}
    assert ECHO in [e["message"] for e in plain.errors.rows]  # the operator sees it as stored
    assert run is not None
    run_messages = [e["message"] for e in run["errors"]]
    assert SHOWN in run_messages and ECHO not in run_messages


def test_the_auditors_view_fingerprints_them_alike(database: Database) -> None:
    _seed(database)
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT endpoint_path, message FROM cc_audit_redacted.error_event"
                " WHERE status_code = 400 AND kind = 'http_400' AND message LIKE 'HTTP 400:%'"
            )
        ).all()
    assert dict(rows) == {"/subjects": SHOWN, "/sites": "HTTP 400: bad 'value'"}
