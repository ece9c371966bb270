"""Backfill a 50,000-call legacy history: parity, idempotence, kill, keys, hashes, cursors.

The history is generated once per module, and backfilled (twice) once into a database the
read-only tests share; tests that change data work on their own copy (CREATE DATABASE …
TEMPLATE), so every test stands alone and the order does not matter.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from cc_console.odata import canonical_params, filter_hash
from tests.conftest import FAKE_KEY, create_database, drop_database
from tests.test_secrets_never_persist import pg_dump

ROOT = Path(__file__).resolve().parents[2]
CALLS = 50_000  # the size; every ugly case of db/legacy/generate.py is in it


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("legacy_generate", ROOT / "db/legacy/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
# one seal key for the module (its shared backfill is sealed once, verified by later tests)
SEAL_KEY_DIR = Path(tempfile.mkdtemp(prefix="cc-cutover-key-"))
atexit.register(shutil.rmtree, SEAL_KEY_DIR, True)
SEAL_KEY = SEAL_KEY_DIR / "audit-seal.key"
SEAL_KEY.write_text("FAKE-cutover-seal-key-not-a-real-secret\n")
SEAL_KEY.chmod(0o600)


def cc_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update({"CC_DATABASE_URL": url, "CC_USER": "tester", "CC_TEST_API_KEY": FAKE_KEY})
    env.update({"CC_DATA_DIR": str(SEAL_KEY_DIR), "CC_AUDIT_SEAL_KEY_REF": f"file:{SEAL_KEY}"})
    return env


def cc(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``cc-console`` in its own process, on the database at ``url``."""
    return subprocess.run(
        [sys.executable, "-m", "cc_console", *args],
        env=cc_env(url),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def add_config(url: str) -> None:
    added = cc(url, "config", "add", "tenant", "--base-url", GEN.BASE, "--secret-ref", "env:K")
    assert added.returncode == 0, added.stderr


def migrate(url: str, legacy: str, *args: str) -> subprocess.CompletedProcess[str]:
    return cc(url, "migrate", *args, "--from", legacy, "--config", "tenant", "--json")


def query(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(
        url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool
    )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    engine.dispose()
    return rows


def scalar(url: str, sql: str, **params: Any) -> Any:
    return query(url, sql, **params)[0][0]


def copy_of(pg_server: Any, template_url: str) -> str:
    name = f"cc_copy_{uuid.uuid4().hex[:8]}"
    return create_database(pg_server, name, template=make_url(template_url).database)


@pytest.fixture(scope="module")
def history(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"cc_legacy_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name).replace("+psycopg", "")
    GEN.generate(url, calls=CALLS, days=90, seed=11)
    yield url
    drop_database(pg_server, name)


@dataclass
class Backfilled:
    url: str
    first: dict[str, Any]
    second: dict[str, Any]


@pytest.fixture(scope="module")
def backfilled(pg_server, migrated_template, history) -> Iterator[Backfilled]:  # type: ignore[no-untyped-def]
    name = f"cc_backfilled_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, template=migrated_template)
    add_config(url)
    first, second = migrate(url, history, "backfill"), migrate(url, history, "backfill")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    yield Backfilled(url, json.loads(first.stdout), json.loads(second.stdout))
    drop_database(pg_server, name)


def test_backfill_twice_lands_once(backfilled, history) -> None:  # type: ignore[no-untyped-def]
    distinct = scalar(
        history,
        "SELECT count(*) FROM (SELECT DISTINCT called_at, url, response_status, response_body"
        " FROM api_call_log) d",
    )
    first, second = backfilled.first, backfilled.second
    assert first["read"] == CALLS and first["written"] == distinct < CALLS  # duplicates
    assert first["keys_scrubbed"] > 0 and first["rows_per_s"] > 0
    assert second["written"] == 0 and second["skipped"] == CALLS
    assert (second["runs"], second["cursors"]) == (first["runs"], first["cursors"])
    url = backfilled.url
    assert scalar(url, "SELECT count(*) FROM cc_api_request_log") == distinct
    assert (
        scalar(url, "SELECT count(*) FROM cc_sync_run WHERE trigger = 'backfill'") == first["runs"]
    )
    # every run's counts are what it owns
    assert scalar(url, "SELECT sum(requests) FROM cc_sync_run") == distinct
    assert scalar(url, "SELECT sum(http_429_count) FROM cc_sync_run") == scalar(
        url, "SELECT count(*) FROM cc_api_response_log WHERE status_code = 429"
    )
    # the ugly cases came across: 429s and 5xx as error events, HTML kept as text, gaps kept
    assert scalar(url, "SELECT count(*) FROM cc_error_event WHERE kind = 'http_429'") > 0
    assert (
        scalar(url, "SELECT count(*) FROM cc_api_response_log WHERE body_text LIKE '<html>%'") > 0
    )
    truncated = "SELECT count(*) FROM cc_api_response_log WHERE status_code = 200 AND NOT parse_ok"
    assert scalar(url, truncated) > 0
    unanswered = (
        "SELECT count(*) FROM cc_api_request_log q WHERE NOT EXISTS (SELECT 1 FROM"
        " cc_api_response_log s WHERE s.request_id = q.id AND s.sent_at = q.sent_at)"
    )
    assert scalar(url, unanswered) == scalar(
        history,
        "SELECT count(*) FROM (SELECT DISTINCT called_at, url FROM api_call_log"
        " WHERE response_status IS NULL) d",
    )


def test_the_backfill_is_chained_in_sealed_batches(backfilled) -> None:  # type: ignore[no-untyped-def]
    result = cc(backfilled.url, "audit", "verify", "--json")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    report = json.loads(result.stdout)
    rows = scalar(
        backfilled.url,
        "SELECT (SELECT count(*) FROM cc_api_request_log)"
        " + (SELECT count(*) FROM cc_api_response_log)",
    )
    assert report["ok"] and report["rows_proved"] == rows and report["predating_rows"] == 0
    batches = scalar(
        backfilled.url, "SELECT count(*) FROM cc_audit_seal WHERE sealed_by = 'backfill'"
    )
    assert batches == report["chains_proved"] > 1  # one per shard, the rerun added none


def test_verify_proves_parity(backfilled, history) -> None:  # type: ignore[no-untyped-def]
    report = migrate(backfilled.url, history, "verify", "--sample", "2000")
    assert report.returncode == 0, report.stdout[-2000:]
    data = json.loads(report.stdout)
    assert (
        data["parity"]
        and data["legacy_calls"] == data["new_requests"] == backfilled.first["written"]
    )
    assert data["sampled"] == 2000 and len(data["days"]) > 90 * 4  # ~5 endpoints a day


def test_no_raw_key_reaches_the_new_tables(backfilled, pg_server) -> None:  # type: ignore[no-untyped-def]
    dump = pg_dump(pg_server, backfilled.url)
    assert dump.count(GEN.RAW_KEY.encode()) == 0
    masked = scalar(
        backfilled.url,
        "SELECT count(*) FROM cc_api_request_log WHERE headers ->> 'x-apikey' LIKE '***sha256:%'",
    )
    assert masked > 0


def test_raw_and_encoded_filters_hash_like_the_engine(backfilled) -> None:  # type: ignore[no-untyped-def]
    expected = filter_hash(canonical_params({"$filter": "status eq 'Active'"}))
    hashes = {
        row[0]
        for row in query(
            backfilled.url,
            "SELECT DISTINCT filter_hash FROM cc_sync_run WHERE resource_path = '/patients/odata'",
        )
    }
    assert hashes == {expected}  # both spellings of the filter: one cursor, the engine's hash


def test_cursors_continue_where_legacy_stopped(backfilled, history) -> None:  # type: ignore[no-untyped-def]
    last = query(
        history,
        """
        SELECT DISTINCT ON (split_part(url, '?', 1)) split_part(url, '?', 1) AS path, url,
               response_body FROM api_call_log
        WHERE response_status = 200 AND left(response_body, 1) = '{'
          AND right(response_body, 1) = '}'
        ORDER BY split_part(url, '?', 1), called_at DESC, id DESC""",
    )
    assert len(last) == len(GEN.SEQUENCES)
    for row in last:
        body = json.loads(row.response_body)
        skip = int(row.url.split("$skip=")[1].split("&")[0])
        done = skip + len(body["items"]) >= body["count"]
        cursor = query(
            backfilled.url,
            "SELECT next_skip, status FROM cc_pagination_state WHERE resource_path = :p",
            p=row.path.replace(GEN.BASE, ""),
        )[0]
        assert (cursor.next_skip, cursor.status) == (
            (0, "completed") if done else (skip + len(body["items"]), "partial")
        )


def test_a_killed_backfill_reruns_to_the_same_result(pg_server, migrated_template, history) -> None:  # type: ignore[no-untyped-def]
    name = f"cc_killed_{uuid.uuid4().hex[:8]}"
    url = create_database(pg_server, name, template=migrated_template)
    try:
        add_config(url)
        env = cc_env(url)
        command = [sys.executable, "-m", "cc_console", "migrate", "backfill", "--from", history]
        command += ["--config", "tenant", "--batch", "1000", "--json"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while scalar(url, "SELECT count(*) FROM cc_api_request_log") < 3000:  # some batches in
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.kill()
        process.wait(timeout=10)
        # a COMMIT sent just before the kill may still complete: count once the server has
        # let go of the dead client's sessions
        while scalar(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        ):
            assert time.monotonic() < deadline, "the killed backfill's sessions never ended"
            time.sleep(0.05)
        partial = scalar(url, "SELECT count(*) FROM cc_api_request_log")
        assert 0 < partial < CALLS
        rerun = json.loads(migrate(url, history, "backfill").stdout)
        total = scalar(url, "SELECT count(*) FROM cc_api_request_log")
        assert rerun["written"] + partial == total and rerun["skipped"] == CALLS - rerun["written"]
        ids = "SELECT count(DISTINCT id) FROM cc_api_request_log"
        assert scalar(url, ids) == total  # no duplicates
        assert json.loads(migrate(url, history, "verify").stdout)["parity"]
    finally:
        drop_database(pg_server, name)


def test_an_injected_mismatch_is_reported_with_both_ids(pg_server, backfilled, history) -> None:  # type: ignore[no-untyped-def]
    url = copy_of(pg_server, backfilled.url)
    try:
        victim = query(
            url,
            "SELECT request_id, sent_at FROM cc_api_response_log WHERE body IS NOT NULL"
            " ORDER BY sent_at LIMIT 1",
        )[0]
        engine = create_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE cc_api_response_log SET body = '{\"items\": []}'::jsonb"
                    " WHERE request_id = :r AND sent_at = :s"
                ),
                {"r": victim.request_id, "s": victim.sent_at},
            )
        engine.dispose()
        result = migrate(url, history, "verify", "--sample", str(CALLS))
        assert result.returncode == 1
        mismatches = json.loads(result.stdout)["mismatches"]
        assert [m["new_id"] for m in mismatches] == [str(victim.request_id)]
        assert mismatches[0]["kind"] == "payload" and isinstance(mismatches[0]["legacy_id"], int)
    finally:
        drop_database(pg_server, str(make_url(url).database))


def test_bad_sources_are_one_line_errors(cli) -> None:  # type: ignore[no-untyped-def]
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
