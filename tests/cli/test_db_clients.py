"""``db url --libpq``, ``db psql`` and ``db dump``: PostgreSQL's own clients on the database
in use, the embedded server's binaries (a system pg_dump older than the server refuses)."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, text


def cc(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env["CC_DATABASE_URL"] = db_url
    env["CC_DATA_DIR"] = os.environ["CC_DATA_DIR"]
    return subprocess.run(
        [sys.executable, "-m", "cc_console", *args], env=env, capture_output=True, text=True
    )


def test_the_libpq_url_is_what_psql_takes(cli, db_url) -> None:  # type: ignore[no-untyped-def]
    uri = cli("db", "url", "--libpq").stdout.strip()
    assert uri.startswith("postgresql://") and "+psycopg" not in uri
    assert cli("db", "url").stdout.strip().startswith("postgresql+psycopg://")
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (n int)"))
        conn.execute(text("INSERT INTO probe VALUES (41), (1)"))
    engine.dispose()
    done = cc(db_url, "db", "psql", "-At", "-c", "SELECT sum(n) FROM probe")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"
    failed = cc(db_url, "db", "psql", "-c", "SELECT nope")
    assert failed.returncode == 1 and "does not exist" in failed.stderr  # psql's own code


def test_dump_uses_a_pg_dump_that_matches_the_server(db_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "schema.sql"
    done = cc(db_url, "db", "dump", "--schema-only", "--file", str(target))
    assert done.returncode == 0, done.stderr
    schema = target.read_text()
    assert "CREATE TABLE public.cc_sync_run" in schema
    assert "lease_token" in schema  # the whole schema, at head
