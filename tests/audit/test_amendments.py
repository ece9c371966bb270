"""`db scrub` after chaining: a masked row is recorded as a signed amendment, `audit verify`
proves it as first written and counts it amended; an edit after the scrub, or a forged
amendment, is still named (exit 1); without the seal key the scrub changes nothing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, create_engine, text

from cc_console.store.audit_amendment import amendment_message
from cc_console.store.audit_seal import SealKey
from tests.audit.test_tamper import synced, tampered, verified

HEADER = "accept"  # a request header every row holds, not masked by default
RESPONSE_HEADER = "content-type"  # and a response header


def _query(db_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def _masked_requests(db_url: str) -> int:
    rows = _query(
        db_url,
        "SELECT count(*) FROM cc_api_request_log"
        " WHERE headers ->> :h LIKE '***sha256:%' AND chain_id IS NOT NULL",
        h=HEADER,
    )
    return int(rows[0][0])


def _scrub(cli, *headers: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    masks = [arg for header in headers for arg in ("--mask-header", header)]
    assert cli("config", "edit", "sim", *masks).exit_code == 0
    result = cli("db", "scrub", "--json")
    assert result.exit_code in (0, 1), result.stderr
    config: dict[str, Any] = json.loads(result.stdout)["configs"][0]
    return config


def test_a_scrub_is_recorded_and_proved(cli, simulator, monkeypatch, db_url) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    chained = int(_query(db_url, "SELECT count(*) FROM cc_api_request_log")[0][0])
    pages = int(_query(db_url, "SELECT count(*) FROM cc_api_response_log")[0][0])
    assert _query(db_url, "SELECT bool_and(chain_canonical_body) FROM cc_api_response_log")[0][0]
    first = _scrub(cli, HEADER, RESPONSE_HEADER)  # pages digested from their canonical body
    assert first["requests"] == chained == _masked_requests(db_url) > 10
    assert first["responses"] == pages and first["amended"] == chained + pages
    code, report = verified(cli)
    assert code == 0, report["findings"]
    assert report["amended_rows"] == chained + pages
    # masked again, under a second header: the amendment follows the first one back
    second = _scrub(cli, HEADER, RESPONSE_HEADER, "user-agent")
    assert second["requests"] == second["amended"] == chained
    code, report = verified(cli)
    assert code == 0, report["findings"]
    assert report["amended_rows"] == chained + pages
    # nothing left to mask: nothing amended, still proved
    third = _scrub(cli, HEADER, RESPONSE_HEADER, "user-agent")
    assert third["total"] == third["amended"] == 0
    assert verified(cli)[0] == 0
    # who asked, once per scrub, and every amendment names that action
    actions = _query(db_url, "SELECT id FROM cc_operator_action WHERE action = 'scrub' ORDER BY at")
    assert len(actions) == 3
    by_action = _query(
        db_url, "SELECT action_id, count(*) FROM cc_audit_amendment GROUP BY action_id"
    )
    assert dict(by_action) == {actions[0].id: chained + pages, actions[1].id: chained}
    auditors = _query(db_url, "SELECT count(*) FROM cc_audit_redacted.audit_amendment")
    assert auditors[0][0] == 2 * chained + pages


def test_the_human_report_says_rows_were_amended(cli, simulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    assert cli("config", "edit", "sim", "--mask-header", HEADER).exit_code == 0
    scrub = cli("db", "scrub")
    assert scrub.exit_code == 0  # headers of its own list, no key: nothing to rotate
    assert "chained audit rows recorded as amended" in scrub.stdout
    assert "no key was found in clear" in scrub.stdout and "rotate" not in scrub.stdout
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.stdout
    assert "amended since, by signed amendments (db scrub)" in result.stdout


def _an_amended_request(conn: Connection) -> Any:
    return conn.execute(
        text(
            "SELECT l.id, l.sent_at FROM cc_api_request_log l JOIN cc_audit_amendment a"
            " ON a.row_id = l.id AND a.sent_at = l.sent_at ORDER BY l.sent_at LIMIT 1"
        )
    ).one()


def test_an_edit_after_the_scrub_is_named(cli, simulator, monkeypatch, db_url) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    _scrub(cli, HEADER)

    def edit(conn: Connection) -> Any:
        row = _an_amended_request(conn)
        conn.execute(
            text(
                "UPDATE cc_api_request_log SET url = url || '&edited=1'"
                " WHERE id = :id AND sent_at = :at"
            ),
            {"id": row.id, "at": row.sent_at},
        )
        return row.id

    edited = tampered(db_url, edit)
    code, report = verified(cli)
    assert code == 1
    assert [(f["kind"], f["row_id"]) for f in report["findings"]] == [("link", str(edited))]


def test_a_forged_amendment_is_named(cli, simulator, monkeypatch, db_url) -> None:  # type: ignore[no-untyped-def]
    """Whoever edits a row and writes an amendment for it without the seal key is caught:
    the amendment does not verify, and the row is named as changed."""
    synced(cli, simulator, monkeypatch)

    def forge(conn: Connection) -> Any:
        row = conn.execute(
            text(
                "SELECT id, sent_at, chain_id, chain_seq FROM cc_api_request_log"
                " WHERE chain_seq = 2 ORDER BY sent_at LIMIT 1"
            )
        ).one()
        digests = {}
        for when, edit in (("before", None), ("after", "|| '&edited=1'")):
            if edit:
                conn.execute(
                    text(
                        f"UPDATE cc_api_request_log SET url = url {edit}"
                        " WHERE id = :id AND sent_at = :at"
                    ),
                    {"id": row.id, "at": row.sent_at},
                )
            digests[when] = conn.execute(
                text(
                    "SELECT sha256(convert_to(jsonb_build_array('request', l.chain_id, l.id,"
                    " (extract(epoch FROM l.sent_at) * 1000000)::bigint, l.config_id, l.run_id,"
                    " l.template_id, l.method, l.url, l.endpoint_path, l.query_params,"
                    " l.headers, l.body, l.body_size, l.attempt_no, l.key_fingerprint)::text,"
                    " 'UTF8')) FROM cc_api_request_log l WHERE id = :id AND sent_at = :at"
                ),
                {"id": row.id, "at": row.sent_at},
            ).scalar_one()
        forged = {
            "log": "request",
            "row_id": row.id,
            "sent_at": row.sent_at,
            "chain_id": row.chain_id,
            "chain_seq": row.chain_seq,
            "chained_digest": bytes(digests["before"]),
            "before_digest": bytes(digests["before"]),
            "after_digest": bytes(digests["after"]),
            "reason": "db scrub: a secret stored in clear was masked",
            "action_id": None,
        }
        wrong_key = SealKey(b"not-the-deployment-key-0000000000")
        conn.execute(
            text(
                "INSERT INTO cc_audit_amendment (log, row_id, sent_at, chain_id, chain_seq,"
                " chained_digest, before_digest, after_digest, reason, key_id, seal) VALUES"
                " (:log, :row_id, :sent_at, :chain_id, :chain_seq, :chained_digest,"
                " :before_digest, :after_digest, :reason, :key_id, :seal)"
            ),
            forged
            | {"key_id": wrong_key.key_id, "seal": wrong_key.sign(amendment_message(forged))},
        )
        return row.id

    edited = str(tampered(db_url, forge))
    code, report = verified(cli)
    assert code == 1
    kinds = {(f["kind"], f["row_id"]) for f in report["findings"]}
    assert kinds == {("amendment", edited), ("link", edited)}


def test_no_seal_key_no_scrub(cli, simulator, monkeypatch, db_url) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    assert cli("config", "edit", "sim", "--mask-header", HEADER).exit_code == 0
    monkeypatch.setenv("CC_AUDIT_SEAL_KEY_REF", "env:CC_TEST_NO_SUCH_SEAL_KEY")
    result = cli("db", "scrub")
    assert result.exit_code == 2
    assert "cannot scrub without the seal key" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _masked_requests(db_url) == 0
    dry = cli("db", "scrub", "--dry-run", "--json")  # counting needs no key
    config = json.loads(dry.stdout)["configs"][0]
    assert dry.exit_code == 0 and config["requests"] > 10 and config["key_found"] is False
    assert _masked_requests(db_url) == 0
    assert not _query(db_url, "SELECT 1 FROM cc_operator_action WHERE action = 'scrub'")
