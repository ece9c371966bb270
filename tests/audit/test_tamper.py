"""Tamper evidence: after real syncs, `audit verify` proves every row; any edit, insert or
delete of an audit row — or of a run with its seal, up to the last anchor — is found and named
(exit 1), and a re-sealed chain is refused without the key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from cc_console.store.audit_chain import GENESIS, response_digest
from cc_console.store.canonical_body import BODY_DIGESTS, stored_body_digests
from tests.engine import test_odata4_sync
from tests.engine.test_cli_sync import setup_tenant


def verified(cli, *args: str) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    result = cli("audit", "verify", "--json", *args)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)


def synced(cli, simulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    setup_tenant(cli, simulator, monkeypatch)
    assert cli("config", "edit", "sim", "--page-size", "5").exit_code == 0
    assert cli("sync", "-t", "sites").exit_code == 0
    assert cli("sync", "-t", "elements").exit_code == 0


def tampered(db_url: str, work: Callable[[Connection], Any]) -> Any:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # a superuser
            return work(conn)
    finally:
        engine.dispose()


def a_page(conn: Connection, position: int = 2) -> Any:
    """A response of the elements run (several pages), at ``position`` of its chain."""
    return conn.execute(
        text(
            "SELECT s.id, s.sent_at, s.chain_id FROM cc_api_response_log s"
            " JOIN cc_sync_run r ON r.id = s.chain_id JOIN cc_odata_query_template t"
            " ON t.id = r.template_id WHERE t.name = 'elements' AND s.chain_seq = :n"
        ),
        {"n": position},
    ).one()


def test_normal_syncs_are_proved_and_anchored(
    cli, simulator, monkeypatch, db_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    code, report = verified(cli)
    assert code == 0 and report["ok"], report["findings"]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM cc_api_request_log)"
                " + (SELECT count(*) FROM cc_api_response_log)"
            )
        ).scalar_one()
        seals = conn.execute(text("SELECT count(*) FROM cc_audit_seal")).scalar_one()
    engine.dispose()
    assert report["rows_proved"] == rows > 10
    assert report["chains_proved"] == report["seals_checked"] == seals == 2
    anchors = Path(report["anchor_file"]).read_text().splitlines()
    assert len(anchors) == 1 and json.loads(anchors[0])["config_seq"] == 2


def _edit_body(conn: Connection) -> Any:
    page = a_page(conn)
    conn.execute(
        text(
            "UPDATE cc_api_response_log SET body = jsonb_build_object('edited', body)"
            " WHERE id = :id AND sent_at = :at"
        ),
        {"id": page.id, "at": page.sent_at},
    )
    return page.id


def _edit_request_url(conn: Connection) -> Any:
    return conn.execute(
        text(
            "UPDATE cc_api_request_log SET url = url || '&x=1' WHERE id = (SELECT id FROM"
            " cc_api_request_log WHERE chain_seq = 3 ORDER BY sent_at LIMIT 1) RETURNING id"
        )
    ).scalar_one()


def _delete_middle_response(conn: Connection) -> Any:
    page = a_page(conn)
    conn.execute(
        text("DELETE FROM cc_api_response_log WHERE id = :id AND sent_at = :at"),
        {"id": page.id, "at": page.sent_at},
    )
    return a_page(conn, 3).id  # named: the row after the gap


def _delete_last_response(conn: Connection) -> Any:
    conn.execute(
        text(
            "DELETE FROM cc_api_response_log WHERE (chain_id, chain_seq) IN (SELECT chain_id,"
            " max(chain_seq) FROM cc_api_response_log GROUP BY chain_id LIMIT 1)"
        )
    )


def _insert_copy(chain: str, seq: str) -> Callable[[Connection], Any]:
    def insert(conn: Connection) -> Any:
        page = a_page(conn)
        return conn.execute(
            text(
                "INSERT INTO cc_api_response_log (id, sent_at, request_id, received_at,"
                " status_code, headers, body, size_bytes, elapsed_ms, parse_ok, chain_id,"
                " chain_seq, chain_hash) SELECT gen_random_uuid(), sent_at, gen_random_uuid(),"
                f" received_at, status_code, headers, body, size_bytes, elapsed_ms, parse_ok,"
                f" {chain}, {seq}, chain_hash FROM cc_api_response_log"
                " WHERE id = :id AND sent_at = :at RETURNING id"
            ),
            {"id": page.id, "at": page.sent_at},
        ).scalar_one()

    return insert


def _recompute_after_edit(conn: Connection) -> None:
    """An editor who knows the scheme re-links the whole chain after the edit."""
    page = a_page(conn)
    _edit_body(conn)
    where, params = "l.chain_id = :c", {"c": page.chain_id}
    bodies = stored_body_digests(conn, "cc_api_response_log", where, params)
    rows = conn.execute(
        text(
            f"WITH {BODY_DIGESTS} SELECT l.id, l.sent_at, {response_digest('l', 'b.digest')}"
            " AS digest FROM cc_api_response_log l LEFT JOIN body_digests b ON b.id = l.id"
            f" AND b.sent_at = l.sent_at WHERE {where} ORDER BY l.chain_seq"
        ),
        {**params, **bodies},
    ).all()
    link = conn.execute(text(f"SELECT {GENESIS}")).scalar_one()
    for row in rows:
        link = hashlib.sha256(bytes(link) + bytes(row.digest)).digest()
        conn.execute(
            text("UPDATE cc_api_response_log SET chain_hash = :h WHERE id = :id AND sent_at = :at"),
            {"h": link, "id": row.id, "at": row.sent_at},
        )
    conn.execute(  # and moves the live head too: only the seal still disagrees
        text("UPDATE cc_audit_chain SET head = :h WHERE chain_id = :c AND log = 'response'"),
        {"h": link, "c": page.chain_id},
    )


def _reseal_without_key(conn: Connection) -> None:
    conn.execute(text("UPDATE cc_audit_seal SET response_rows = response_rows + 1"))


def _delete_run(conn: Connection, order: str) -> None:
    """Delete a run's rows, its seal and its heads: the first or last run to end."""
    chain = conn.execute(
        text(f"SELECT chain_id FROM cc_audit_seal ORDER BY config_seq {order} LIMIT 1")
    ).scalar_one()
    for table in ("cc_api_response_log", "cc_api_request_log", "cc_audit_seal", "cc_audit_chain"):
        conn.execute(text(f"DELETE FROM {table} WHERE chain_id = :c"), {"c": chain})


def _delete_first_run_and_seal(conn: Connection) -> None:
    _delete_run(conn, "ASC")


@pytest.mark.parametrize(
    ("tamper", "kind", "names_row"),
    [
        (_edit_body, "link", True),
        (_edit_request_url, "link", True),
        (_delete_middle_response, "gap", True),
        (_delete_last_response, "missing", False),
        (_insert_copy("chain_id", "chain_seq"), "repeat", True),
        (_insert_copy("chain_id", "99"), "extra", False),
        (_insert_copy("gen_random_uuid()", "1"), "orphan", True),
        (_insert_copy("NULL", "NULL"), "unchained", True),
        (_recompute_after_edit, "head", False),
        (_reseal_without_key, "seal", False),
        (_delete_first_run_and_seal, "order", False),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_tampering_is_found_and_named(
    cli, simulator, monkeypatch, db_url, tamper, kind, names_row
) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    assert verified(cli)[0] == 0
    row_id = tampered(db_url, tamper)
    code, report = verified(cli)
    assert code == 1 and not report["ok"]
    kinds = {f["kind"] for f in report["findings"]}
    assert kind in kinds, report["findings"]
    if names_row:
        assert str(row_id) in {str(f["row_id"]) for f in report["findings"]}
        named = [f for f in report["findings"] if f["kind"] == kind]
        assert any(str(row_id) in f["message"] for f in named)
    text_result = cli("audit", "verify")
    assert text_result.exit_code == 1
    assert "does not match its seals" in text_result.stderr + text_result.stdout


def test_deleting_the_last_run_with_its_seal_is_caught_by_the_anchor(
    cli, simulator, monkeypatch, db_url
) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    code, report = verified(cli)  # anchors config seal #2
    assert code == 0

    tampered(db_url, lambda conn: _delete_run(conn, "DESC"))
    code, report = verified(cli, "--anchor", report["anchor_file"])
    assert code == 1
    assert [f["kind"] for f in report["findings"]] == ["anchor"]
    assert "seal #2" in report["findings"][0]["message"]


def test_another_key_cannot_vouch_for_the_seals(cli, simulator, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    synced(cli, simulator, monkeypatch)
    other = tmp_path / "other.key"
    other.write_text("an-obviously-fake-other-seal-key\n")
    other.chmod(0o600)
    monkeypatch.setenv("CC_AUDIT_SEAL_KEY_REF", f"file:{other}")
    code, report = verified(cli)
    assert code == 1 and {f["kind"] for f in report["findings"]} == {"key"}


service = test_odata4_sync.service  # an OData v4 simulator with config "acc" (a fixture)


def test_rows_a_command_writes_outside_runs_are_sealed_as_it_ends(service, cli, db_url) -> None:  # type: ignore[no-untyped-def]
    assert cli("template", "add", "acc", "/Orders").exit_code == 0  # reads $metadata
    code, report = verified(cli)
    assert code == 0 and report["rows_proved"] == 2, report["findings"]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        sealed_by = conn.execute(text("SELECT sealed_by FROM cc_audit_seal")).scalars().all()
    engine.dispose()
    assert sealed_by == ["batch"]
