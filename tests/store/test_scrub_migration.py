"""Migration 0005 and `db scrub`: keys written in clear by older versions are masked, counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from sqlalchemy import text

from cc_console.client.secrets import key_fingerprint
from cc_console.settings import Settings
from cc_console.store import migrations
from cc_console.store.database import Database, open_database
from tests.store.test_schema import insert_config, insert_run

KEY = "FAKE-leaked+key/7c1d=not-a-secret"  # base64-ish: + / = survive every encoding
OTHER_KEY = "FAKE-unresolved-key-3e8a-not-a-secret"
SENT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
MASK = f"***sha256:{key_fingerprint(KEY)}"


def _leak(database: Database) -> dict[str, object]:
    """What a 0004-era engine wrote for a config whose auth header is X-Custom-Key."""
    with database.engine.begin() as conn:
        custom = insert_config(
            conn, "custom", auth_header="X-Custom-Key", secret_ref="env:CC_LEAKED_KEY"
        )
        gone = insert_config(conn, "gone", auth_header="X-Other", secret_ref="env:CC_GONE_KEY")
        run = insert_run(conn, custom, message=f"http_401: Illegal header value b'{KEY}'")
        ids = {}
        for name, config, headers, url in (
            (
                "custom",
                custom,
                {"x-custom-key": KEY, "accept": "application/json"},
                f"https://api.example.test/x?api_key={quote(KEY, safe='')}",
            ),
            (
                "echo",
                custom,
                {"x-forwarded": f"k={KEY}", "x-apikey": MASK},
                "https://api.example.test/x",
            ),
            ("gone", gone, {"x-other": OTHER_KEY}, "https://api.example.test/x"),
        ):
            ids[name] = conn.execute(
                text(
                    "INSERT INTO cc_api_request_log (sent_at, config_id, run_id, method, url,"
                    " endpoint_path, headers) VALUES (:s, :c, :r, 'GET', :u, '/x',"
                    " CAST(:h AS jsonb)) RETURNING id"
                ),
                {"s": SENT, "c": config, "r": run, "u": url, "h": json.dumps(headers)},
            ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO cc_api_response_log (sent_at, request_id, received_at, status_code,"
                " headers, body) VALUES (:s, :q, :s, 401, CAST(:h AS jsonb), CAST(:b AS jsonb))"
            ),
            {
                "s": SENT,
                "q": ids["custom"],
                "h": json.dumps({"x-custom-key": KEY}),
                "b": json.dumps({"message": f"key {KEY} is not valid"}),
            },
        )
        conn.execute(
            text(
                "INSERT INTO cc_error_event (kind, retryable, message, config_id, run_id)"
                " VALUES ('http_401', false, :m, :c, :r)"
            ),
            {"m": f"HTTP 401: {KEY}", "c": custom, "r": run},
        )
    return ids


@pytest.fixture
def at_0004(empty_db_url: str):  # type: ignore[no-untyped-def]
    db = open_database(Settings(database_url=empty_db_url), migrate=False)
    migrations.upgrade(db, "0004")
    yield db
    db.dispose()


def test_upgrade_masks_what_leaked_counts_it_and_says_rotate(at_0004, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = _leak(at_0004)
    monkeypatch.setenv("CC_LEAKED_KEY", KEY)  # resolves; CC_GONE_KEY does not
    notices: list[str] = []
    migrations.upgrade(at_0004, notice=notices.append)

    with at_0004.engine.connect() as conn:
        everything = "".join(
            str(conn.execute(text(f"SELECT array_agg(t::text) FROM {table} t")).scalar())
            for table in (
                "cc_api_request_log",
                "cc_api_response_log",
                "cc_error_event",
                "cc_sync_run",
            )
        )
        headers = dict(conn.execute(text("SELECT id, headers FROM cc_api_request_log")).all())
    assert KEY not in everything and quote(KEY, safe="") not in everything
    assert OTHER_KEY not in everything  # by the config's header name, though it did not resolve
    assert headers[ids["custom"]]["x-custom-key"] == MASK
    assert headers[ids["custom"]]["accept"] == "application/json"
    assert headers[ids["echo"]]["x-forwarded"].startswith("***sha256:")  # by value
    assert headers[ids["echo"]]["x-apikey"] == MASK  # already masked: unchanged
    assert headers[ids["gone"]]["x-other"] == f"***sha256:{key_fingerprint(OTHER_KEY)}"

    text_of = "\n".join(notices)
    assert "config custom: masked 5 rows" in text_of  # 2 requests, 1 response, 1 event, 1 run
    assert "2 requests, 1 responses, 1 error events, 1 run messages" in text_of
    assert "rotate the key behind env:CC_LEAKED_KEY" in text_of
    assert "config gone: masked 1 rows (by header name only" in text_of
    assert "rotate the key behind env:CC_GONE_KEY" in text_of
    assert KEY not in text_of


def test_db_scrub_after_the_upgrade_finds_nothing_more(cli, db_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    db = open_database(Settings(database_url=db_url), migrate=False)
    try:
        _leak(db)  # as if written by an old engine after the upgrade
    finally:
        db.dispose()
    monkeypatch.setenv("CC_LEAKED_KEY", KEY)
    dry = cli("db", "scrub", "--dry-run", "--json")
    assert dry.exit_code == 1, dry.stderr
    planned = {c["config"]: c for c in json.loads(dry.stdout)["configs"]}
    assert planned["custom"]["total"] == 5 and planned["custom"]["key_resolved"] is True
    first = cli("db", "scrub")
    assert first.exit_code == 1 and "config custom: masked 5 rows" in first.stdout
    assert KEY not in first.stdout + first.stderr
    again = cli("db", "scrub", "--json")
    assert again.exit_code == 0
    assert all(c["total"] == 0 for c in json.loads(again.stdout)["configs"])


def test_an_empty_database_upgrades_without_scrub_lines(empty_db_url: str) -> None:
    notices: list[str] = []
    db = open_database(Settings(database_url=empty_db_url), notice=notices.append)
    db.dispose()
    assert len(notices) == 1 and "applying migrations" in notices[0]
