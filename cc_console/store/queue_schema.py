"""procrastinate's tables, functions and types in our database: installed, upgraded and
removed by our Alembic migrations, never by procrastinate's own CLI.

procrastinate ships its full schema (``schema.sql``, the newest) and one SQL file per schema
change (``sql/migrations/NN.NN.NN_NN_*.sql``), but no down migrations. We record which of those
files the installed schema corresponds to in ``cc_queue_schema`` (one row): a later Alembic
revision that pins a newer procrastinate applies the files after it, in order, so a database
installed at any version reaches the same schema. A worker refuses to start unless the
recorded file is the newest this installation ships (:func:`queue_schema_problem`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, text

__all__ = [
    "drop_queue_schema",
    "install_queue_schema",
    "newest_queue_migration",
    "queue_schema_problem",
    "upgrade_queue_schema",
]


def _migration_files() -> list[str]:
    return sorted(p.name for p in Path(SchemaManager.get_migrations_path()).glob("*.sql"))


def newest_queue_migration() -> str:
    """The newest schema change the installed procrastinate knows (its schema.sql has it)."""
    return _migration_files()[-1]


def _driver(conn: Connection) -> Any:
    # procrastinate's SQL is full of '%' and '::': run it as it is, through psycopg without
    # parameters (several statements in one go), inside the migration's transaction
    return conn.connection.driver_connection


def install_queue_schema(conn: Connection) -> None:
    """Create procrastinate's schema as this installation ships it, and record it."""
    _driver(conn).execute(SchemaManager.get_schema())
    conn.execute(
        text(
            "CREATE TABLE cc_queue_schema (applied text NOT NULL,"
            " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row))"
        )
    )
    conn.execute(
        text("INSERT INTO cc_queue_schema (applied) VALUES (:m)"), {"m": newest_queue_migration()}
    )


def upgrade_queue_schema(conn: Connection) -> list[str]:
    """Apply procrastinate's schema changes newer than the recorded one; returns their names."""
    applied = conn.execute(text("SELECT applied FROM cc_queue_schema")).scalar_one()
    folder = Path(SchemaManager.get_migrations_path())
    newer = [name for name in _migration_files() if name > applied]
    for name in newer:
        _driver(conn).execute((folder / name).read_text(encoding="utf-8"))
    if newer:
        conn.execute(text("UPDATE cc_queue_schema SET applied = :m"), {"m": newer[-1]})
    return newer


def drop_queue_schema(conn: Connection) -> None:
    """Remove every procrastinate object (tables, then functions, then types) and the record."""
    conn.execute(text("DROP TABLE IF EXISTS cc_queue_schema"))
    for kind, catalog in (
        (
            "TABLE",
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename LIKE 'procrastinate%'",
        ),
        (
            "FUNCTION",
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n"
            " ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
            " AND p.proname LIKE 'procrastinate%'",
        ),
        (
            "TYPE",
            "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate%'"
            " AND t.typtype IN ('e', 'c')",
        ),
    ):
        for (name,) in conn.execute(text(catalog)).all():
            quoted = name if kind == "FUNCTION" else f'"{name}"'
            conn.execute(text(f"DROP {kind} IF EXISTS {quoted} CASCADE"))


def queue_schema_problem(conn: Connection) -> str | None:
    """Why workers cannot use this database's queue schema, or None when they can."""
    exists = conn.execute(text("SELECT to_regclass('cc_queue_schema') IS NOT NULL")).scalar_one()
    if not exists:
        return "the database has no job queue; run `cc-console db upgrade`"
    applied = conn.execute(text("SELECT applied FROM cc_queue_schema")).scalar_one()
    newest = newest_queue_migration()
    if applied != newest:
        return (
            f"the job queue's schema is at {applied.split('_')[0]}, this cc-console's"
            f" procrastinate expects {newest.split('_')[0]}; run `cc-console db upgrade`"
        )
    return None
