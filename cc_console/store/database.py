"""Open the configured database: resolve its URL, reach it, migrate an empty one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ..errors import DatabaseError, UsageError
from ..settings import Settings
from .embedded import start_embedded

__all__ = ["Database", "mask_url", "open_database", "to_sqlalchemy_url"]

CONNECT_TIMEOUT_S = 5
# Every session reads timestamps in UTC, whatever the server's TimeZone: what a report prints
# or the console shows must not depend on where the database was initialised.
CONNECT_ARGS = {"connect_timeout": CONNECT_TIMEOUT_S, "options": "-c timezone=UTC"}


def to_sqlalchemy_url(raw: str) -> URL:
    """Parse a PostgreSQL URL and pin the psycopg 3 driver."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise UsageError(
            "CC_DATABASE_URL is not a database URL; expected postgresql://user:pass@host:5432/db"
        ) from None
    if url.get_backend_name() not in {"postgresql", "postgres"}:
        raise UsageError(
            f"CC_DATABASE_URL must point at PostgreSQL, not {url.get_backend_name()!r}"
        )
    return url.set(drivername="postgresql+psycopg")


def mask_url(url: URL | str) -> str:
    """The URL as text with any password replaced by ``***``."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


@dataclass
class Database:
    """An engine on the configured database and where it came from."""

    url: URL
    embedded: bool
    engine: Engine

    @property
    def display_url(self) -> str:
        """The URL safe to print."""
        return mask_url(self.url)

    def async_engine(self) -> AsyncEngine:
        """An asyncio engine on the same database (psycopg 3 async)."""
        return create_async_engine(self.url, connect_args=CONNECT_ARGS)

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()


def _ensure_embedded_database(settings: Settings) -> URL:
    server = start_embedded(settings.pgdata)
    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = settings.embedded_database
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                try:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                except Exception as exc:  # another process created it first
                    if "already exists" not in str(exc):
                        raise
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot reach the embedded PostgreSQL in {settings.pgdata}: {_reason(exc)}; "
            "run `cc-console db stop` and retry, or set CC_DATABASE_URL"
        ) from None
    finally:
        admin.dispose()
    return make_url(server.url(name))


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[-1] if lines else type(orig).__name__


def open_database(
    settings: Settings,
    *,
    migrate: bool = True,
    notice: Callable[[str], None] | None = None,
) -> Database:
    """Connect to the configured database; on first use of an empty one, apply migrations."""
    if settings.database_url:
        url, embedded = to_sqlalchemy_url(settings.database_url), False
    else:
        url, embedded = _ensure_embedded_database(settings), True
    engine = create_engine(url, pool_pre_ping=True, connect_args=CONNECT_ARGS)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, psycopg.OperationalError) as exc:
        engine.dispose()
        hint = (
            "check the server, or unset CC_DATABASE_URL to use the embedded PostgreSQL"
            if not embedded
            else "run `cc-console db stop` and retry, or set CC_DATABASE_URL"
        )
        raise DatabaseError(
            f"cannot reach PostgreSQL at {mask_url(url)}: {_reason(exc)}; {hint}"
        ) from None
    database = Database(url=url, embedded=embedded, engine=engine)
    if migrate:
        from .migrations import ensure_migrated

        ensure_migrated(database, notice=notice or _stderr_notice, auto=settings.auto_migrate)
    return database


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr)
