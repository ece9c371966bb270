"""An auditor PostgreSQL role: it reads the audit trail only through the redacting views of
schema ``cc_audit_redacted`` (migration 0019), never a table, Silver or the key.

The views read the logs with their owner's rights; their redacted columns come from
SECURITY DEFINER functions that take a row's key and return what the view shows, so the role
is granted those functions and the views, and nothing of ``cc_redaction`` (which would let it
fingerprint guesses).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ..errors import UsageError
from .redaction import install_key
from .silver_columns import ident
from .silver_reader import ROLE_NAME, ensure_reading_role

__all__ = ["AUDITOR_SCHEMA", "AuditorGrant", "grant_auditor"]

AUDITOR_SCHEMA = "cc_audit_redacted"


@dataclass(frozen=True)
class AuditorGrant:
    """What ``grant_auditor`` did: the role, whether it was created, the views it reads, whether
    the key's pads changed, and any table elsewhere it could read already."""

    role: str
    created: bool
    views: list[str]
    key_installed: bool
    also_reads: list[str]


def grant_auditor(engine: Engine, role: str, key: bytes, user: str) -> AuditorGrant:
    """Create ``role`` (LOGIN, no password, no other attribute) if it does not exist, let it
    select the redacting views, and give the views the pads of ``key``."""
    if not ROLE_NAME.fullmatch(role) or role.startswith("pg_"):
        raise UsageError(f"role {role!r}: use a lower-case name like auditor (a-z, 0-9, _)")
    try:
        return _grant(engine, role, key, user)
    except DBAPIError as exc:
        if not isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
            raise
        reason = str(exc.orig).splitlines()[0]
        raise UsageError(
            f"the role cc-console connects as may not do this ({reason}): run it as a role"
            " with CREATEROLE that owns the database"
        ) from None


def _grant(engine: Engine, role: str, key: bytes, user: str) -> AuditorGrant:
    with engine.begin() as conn:
        created = ensure_reading_role(conn, role)
        key_installed = install_key(conn, key, user)
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        schema, name = ident(AUDITOR_SCHEMA), ident(role)
        for statement in (
            f"GRANT CONNECT ON DATABASE {ident(database)} TO {name}",
            f"GRANT USAGE ON SCHEMA {schema} TO {name}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {name}",
            f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {name}",
        ):
            conn.execute(text(statement))
        views = conn.execute(
            text(
                "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(:s)"
                " AND relkind = 'v' ORDER BY 1"
            ),
            {"s": AUDITOR_SCHEMA},
        ).scalars()
        also = conn.execute(
            text(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> :s"
                " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                " AND has_table_privilege(:r, c.oid, 'SELECT') ORDER BY 1"
            ),
            {"s": AUDITOR_SCHEMA, "r": role},
        ).scalars()
        return AuditorGrant(
            role, created, [str(v) for v in views], key_installed, [str(t) for t in also]
        )
