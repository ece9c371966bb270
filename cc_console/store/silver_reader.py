"""A read-only PostgreSQL role for analysts: it may select the typed Silver views, nothing else.

The views read ``cc_silver_record`` with their owner's rights, so the role needs no grant on
any cc-console table: it cannot read the audit trail, the configs or Silver's raw rows. Views
created later in the schema are granted to it by default privileges (of the role that runs
``silver views``), and a view re-created for a retyped column gets its grants back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from ..errors import UsageError
from .silver_columns import ident

__all__ = ["ROLE_NAME", "ReaderGrant", "ensure_reading_role", "grant_reader"]

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class ReaderGrant:
    """What ``grant_reader`` did: whether it created the role, the views it may read, and any
    table elsewhere it could read already (grants made outside cc-console)."""

    role: str
    schema: str
    created: bool
    views: int
    also_reads: list[str]


def grant_reader(engine: Engine, role: str, schema: str) -> ReaderGrant:
    """Create ``role`` (LOGIN, no password, no other attribute) if it does not exist and let
    it select every view of ``schema``, now and later."""
    if not ROLE_NAME.fullmatch(role) or role.startswith("pg_"):
        raise UsageError(f"role {role!r}: use a lower-case name like analyst (a-z, 0-9, _)")
    try:
        return _grant(engine, role, schema)
    except DBAPIError as exc:
        if not isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
            raise
        reason = str(exc.orig).splitlines()[0]
        raise UsageError(
            f"the role cc-console connects as may not do this ({reason}): run it as a role"
            " with CREATEROLE that owns the database"
        ) from None


def ensure_reading_role(conn: Connection, role: str) -> bool:
    """Create ``role`` (LOGIN, no other attribute) unless it exists; refuse one that may do
    more than read. Whether it was created."""
    found = conn.execute(
        text(
            "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls,"
            " rolname = current_user FROM pg_roles WHERE rolname = :r"
        ),
        {"r": role},
    ).one_or_none()
    if found is not None and (found[0] or found[1]):
        raise UsageError(
            f"role {role} may do more than read (superuser, createrole, createdb, bypassrls"
            " or the role cc-console runs as): choose another name"
        )
    if found is None:
        conn.execute(
            text(
                f"CREATE ROLE {ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                " NOREPLICATION NOBYPASSRLS"
            )
        )
    return found is None


def _grant(engine: Engine, role: str, schema: str) -> ReaderGrant:
    with engine.begin() as conn:
        if conn.execute(text("SELECT to_regnamespace(:s)"), {"s": schema}).scalar() is None:
            raise UsageError(
                f"no schema {schema}: create the views first (`cc-console silver views`)"
            )
        created = ensure_reading_role(conn, role)
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        for statement in (
            f"GRANT CONNECT ON DATABASE {ident(database)} TO {ident(role)}",
            f"GRANT USAGE ON SCHEMA {ident(schema)} TO {ident(role)}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {ident(schema)} TO {ident(role)}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {ident(schema)} GRANT SELECT ON TABLES"
            f" TO {ident(role)}",
        ):
            conn.execute(text(statement))
        views = conn.execute(
            text(
                "SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace(:s)"
                " AND relkind = 'v'"
            ),
            {"s": schema},
        ).scalar_one()
        also = conn.execute(
            text(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> :s"
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND has_table_privilege(:r, c.oid, 'SELECT') ORDER BY 1"
            ),
            {"s": schema, "r": role},
        ).scalars()
        return ReaderGrant(role, schema, created, int(views), [str(t) for t in also])
