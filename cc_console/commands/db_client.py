"""``cc-console db url | psql | dump``: reach the database with PostgreSQL's own clients —
the embedded server's, which match its version (a system ``pg_dump`` older than the server
refuses to dump it)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import URL

from ..client.secrets import environment_with
from ..errors import DatabaseError
from ..store.database import Database
from ..store.embedded import client_binary
from .common import console, open_db

__all__ = ["PASSTHROUGH", "dump", "libpq_uri", "psql", "url"]

PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def libpq_uri(url: URL) -> str:
    """A connection URI psql and pg_dump take (no password: it goes in PGPASSWORD)."""
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _client_env(url: URL) -> dict[str, str] | None:
    return environment_with(PGPASSWORD=str(url.password)) if url.password else None


def url(
    libpq: Annotated[
        bool, typer.Option("--libpq", help="A URI for psql/pg_dump (no driver, no password).")
    ] = False,
) -> None:
    """Print the database URL in use (SQLAlchemy's form; --libpq: libpq's)."""
    with open_db(migrate=False) as database:
        console.print(libpq_uri(database.url) if libpq else database.display_url)


def _run(database: Database, tool: str, args: list[str]) -> None:
    binary = client_binary(tool)
    try:
        done = subprocess.run([str(binary), *args], env=_client_env(database.url), check=False)
    except OSError as exc:
        raise DatabaseError(f"cannot run {binary}: {exc.strerror or exc}") from None
    if done.returncode:
        raise typer.Exit(done.returncode)


def psql(ctx: typer.Context) -> None:
    """Open psql on the database (extra arguments go to psql, e.g. -c 'SELECT 1')."""
    with open_db(migrate=False) as database:
        _run(database, "psql", [libpq_uri(database.url), *ctx.args])


def dump(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Write the dump here (default stdout).")
    ] = None,
) -> None:
    """pg_dump the database with the embedded server's pg_dump (extra arguments go to it)."""
    with open_db(migrate=False) as database:
        target = ["--file", str(file)] if file is not None else []
        _run(database, "pg_dump", ["--dbname", libpq_uri(database.url), *target, *ctx.args])
