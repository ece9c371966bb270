"""Backfill from a generated legacy history, prove parity, survive a kill, leak no key."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from cc_console.odata import canonical_params, filter_hash
from tests.conftest import create_database, drop_database
from tests.test_secrets_never_persist import pg_dump

ROOT = Path(__file__).resolve().parents[2]
CALLS = 4000  # the bench runs 50,000; this keeps the suite quick with every ugly case present


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("legacy_generate", ROOT / "db/legacy/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.fixture
def legacy_url(pg_server):  # type: ignore[no-untyped-def]
    name = f"cc_legacy_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name)
    GEN.generate(url.replace("+psycopg", ""), calls=CALLS, days=90, seed=11)
    yield url.replace("+psycopg", "")
    drop_database(pg_server, name)


@pytest.fixture
def cutover(cli, legacy_url, database):  # type: ignore[no-untyped-def]
    assert (
        cli(
            "config", "add", "tenant", "--base-url", GEN.BASE, "--secret-ref", "env:CC_TEST_API_KEY"
        ).exit_code
        == 0
    )

    def run(*args: str) -> Any:
        return cli("migrate", *args, "--from", legacy_url, "--config", "tenant", "--json")

    return run


def legacy_rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    engine.dispose()
    return rows


def scalar(database: Any, sql: str, **params: Any) -> Any:
    with database.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_backfill_twice_lands_once_and_verify_proves_parity(cutover, database, legacy_url) -> None:
    first = cutover("backfill")
    assert first.exit_code == 0, first.stderr
    summary = json.loads(first.stdout)
    distinct = legacy_rows(
        legacy_url,
        "SELECT count(*) FROM (SELECT DISTINCT called_at, url,"
        " response_status, response_body FROM api_call_log) d",
    )[0][0]
    assert summary["read"] == CALLS and summary["written"] == distinct < CALLS  # duplicates
    assert summary["keys_scrubbed"] > 0
    second = json.loads(cutover("backfill").stdout)
    assert second["written"] == 0 and second["skipped"] == CALLS
    assert scalar(database, "SELECT count(*) FROM cc_api_request_log") == distinct
    assert (
        scalar(database, "SELECT count(*) FROM cc_sync_run WHERE trigger = 'backfill'")
        == summary["runs"]
    )
    report = cutover("verify", "--sample", "200")
    assert report.exit_code == 0, report.stdout
    data = json.loads(report.stdout)
    assert data["parity"] and data["legacy_calls"] == data["new_requests"] == distinct
    # the ugly cases came across: 429s and 5xx as error events, HTML kept as text, gaps kept
    assert scalar(database, "SELECT count(*) FROM cc_error_event WHERE kind = 'http_429'") > 0
    assert (
        scalar(database, "SELECT count(*) FROM cc_api_response_log WHERE body_text LIKE '<html>%'")
        > 0
    )
    assert (
        scalar(
            database,
            "SELECT count(*) FROM cc_api_response_log WHERE status_code = 200 AND NOT parse_ok",
        )
        > 0
    )  # truncated pages


def test_no_raw_key_reaches_the_new_tables(cutover, database, pg_server, db_url) -> None:
    assert cutover("backfill").exit_code == 0
    dump = pg_dump(pg_server, db_url)
    assert dump.count(GEN.RAW_KEY.encode()) == 0
    masked = scalar(
        database,
        "SELECT count(*) FROM cc_api_request_log WHERE headers ->> 'x-apikey' LIKE '***sha256:%'",
    )
    assert masked > 0


def test_raw_and_encoded_filters_hash_like_the_engine(cutover, database) -> None:
    assert cutover("backfill").exit_code == 0
    expected = filter_hash(canonical_params({"$filter": "status eq 'Active'"}))
    hashes = {
        r
        for r in database.engine.connect()
        .execute(
            text(
                "SELECT DISTINCT filter_hash FROM cc_sync_run WHERE resource_path = '/patients/odata'"
            )
        )
        .scalars()
    }
    assert hashes == {expected}  # both spellings of the filter: one cursor, the engine's hash


def test_cursors_continue_where_legacy_stopped(cutover, database, legacy_url) -> None:
    assert cutover("backfill").exit_code == 0
    last = legacy_rows(
        legacy_url,
        """
        SELECT DISTINCT ON (split_part(url, '?', 1)) split_part(url, '?', 1) AS path, url,
               response_body FROM api_call_log
        WHERE response_status = 200 AND left(response_body, 1) = '{'
          AND right(response_body, 1) = '}'
        ORDER BY split_part(url, '?', 1), called_at DESC, id DESC""",
    )
    for row in last:
        body = json.loads(row.response_body)
        skip = int(row.url.split("$skip=")[1].split("&")[0])
        done = skip + len(body["items"]) >= body["count"]
        path = row.path.replace(GEN.BASE, "")
        cursor = (
            database.engine.connect()
            .execute(
                text("SELECT next_skip, status FROM cc_pagination_state WHERE resource_path = :p"),
                {"p": path},
            )
            .one()
        )
        assert (cursor.next_skip, cursor.status) == (
            (0, "completed") if done else (skip + len(body["items"]), "partial")
        )


def test_a_killed_backfill_reruns_to_the_same_result(cutover, database, legacy_url, db_url) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update({"CC_DATABASE_URL": db_url, "CC_USER": "tester"})
    command = [
        sys.executable,
        "-m",
        "cc_console",
        "migrate",
        "backfill",
        "--from",
        legacy_url,
        "--config",
        "tenant",
        "--batch",
        "200",
        "--json",
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while scalar(database, "SELECT count(*) FROM cc_api_request_log") < 400:  # two batches in
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.kill()
    process.wait(timeout=10)
    partial = scalar(database, "SELECT count(*) FROM cc_api_request_log")
    assert partial > 0
    rerun = json.loads(cutover("backfill").stdout)
    assert rerun["written"] + partial == scalar(database, "SELECT count(*) FROM cc_api_request_log")
    assert json.loads(cutover("verify").stdout)["parity"]


def test_an_injected_mismatch_is_reported_with_both_ids(cutover, database, legacy_url) -> None:
    assert cutover("backfill").exit_code == 0
    with database.engine.begin() as conn:
        victim = conn.execute(
            text(
                "SELECT request_id, sent_at FROM cc_api_response_log WHERE body IS NOT NULL"
                " ORDER BY sent_at LIMIT 1"
            )
        ).one()
        conn.execute(
            text(
                "UPDATE cc_api_response_log SET body = '{\"items\": []}'::jsonb"
                " WHERE request_id = :r AND sent_at = :s"
            ),
            {"r": victim.request_id, "s": victim.sent_at},
        )
    result = cutover("verify", "--sample", str(CALLS))
    assert result.exit_code == 1
    mismatches = json.loads(result.stdout)["mismatches"]
    assert [m["new_id"] for m in mismatches] == [str(victim.request_id)]
    assert mismatches[0]["kind"] == "payload" and isinstance(mismatches[0]["legacy_id"], int)


def test_bad_sources_are_one_line_errors(cli) -> None:
    assert (
        cli("config", "add", "tenant", "--base-url", GEN.BASE, "--secret-ref", "env:X").exit_code
        == 0
    )
    for source, message in [
        ("mysql://nobody@nowhere/legacy", "--from takes a PostgreSQL URL"),
        ("postgresql://nobody@127.0.0.1:1/legacy", "cannot reach the legacy database"),
    ]:
        result = cli("migrate", "backfill", "--from", source, "--config", "tenant")
        assert result.exit_code == 2 and message in result.stderr
        assert "Traceback" not in result.stderr
