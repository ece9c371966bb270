"""Alembic, driven from code: upgrade, downgrade, revision checks, auto-migrate on first use."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from ..errors import DatabaseError
from .database import Database

__all__ = [
    "alembic_config",
    "current_revision",
    "downgrade",
    "ensure_migrated",
    "head_revision",
    "migrations_dir",
    "upgrade",
]


def migrations_dir() -> Path:
    """The Alembic script directory: shipped in the wheel, or ``db/migrations`` in a checkout."""
    package_root = Path(__file__).resolve().parents[1]
    for candidate in (package_root / "_migrations", package_root.parent / "db" / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise DatabaseError("the Alembic migrations are missing from this installation; reinstall")


def alembic_config(database: Database, notice: Callable[[str], None] | None = None) -> Config:
    """An Alembic config bound to ``database``'s engine (no alembic.ini needed).

    ``notice`` is how a migration tells the operator something (``attributes["notice"]``).
    """
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = database.engine
    config.attributes["notice"] = notice or _stderr
    return config


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def head_revision() -> str:
    """The newest revision this installation knows."""
    script = ScriptDirectory(str(migrations_dir()))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    """The revision the database is at, or None when unmigrated."""
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(
    database: Database, revision: str = "head", notice: Callable[[str], None] | None = None
) -> None:
    """Apply migrations up to ``revision``, then make sure this month's partitions exist."""
    command.upgrade(alembic_config(database, notice), revision)
    if current_revision(database) is not None:
        from .partitions import ensure_default_window

        with database.engine.begin() as conn:
            ensure_default_window(conn)


def downgrade(database: Database, revision: str = "base") -> None:
    """Revert migrations down to ``revision`` (``base`` removes every cc-console table)."""
    command.downgrade(alembic_config(database), revision)


def ensure_migrated(
    database: Database, *, notice: Callable[[str], None], auto: bool = True
) -> None:
    """Migrate an empty database (saying so); refuse one that is behind or unknown."""
    head = head_revision()
    if current_revision(database) == head:
        return
    # several processes may meet the same empty database: decide and migrate one at a time
    with database.engine.connect() as guard:
        guard.execute(text("SELECT pg_advisory_lock(hashtext('cc-console:first-use'))"))
        try:
            _migrate_if_empty(database, head, notice=notice, auto=auto)
        finally:
            guard.execute(text("SELECT pg_advisory_unlock(hashtext('cc-console:first-use'))"))
            guard.commit()


def _migrate_if_empty(
    database: Database, head: str, *, notice: Callable[[str], None], auto: bool
) -> None:
    current = current_revision(database)
    if current == head:
        return
    if current is None:
        existing = [t for t in inspect(database.engine).get_table_names() if t.startswith("cc_")]
        if existing:
            raise DatabaseError(
                f"{database.display_url} has cc_ tables but no schema revision; "
                "inspect it, or point CC_DATABASE_URL at an empty database"
            )
        if not auto:
            raise DatabaseError(
                f"{database.display_url} has no cc-console schema; run `cc-console db upgrade`"
            )
        notice(f"cc-console: empty database, applying migrations up to {head}")
        upgrade(database, notice=notice)
        return
    raise DatabaseError(
        f"{database.display_url} is at schema revision {current}, this cc-console expects "
        f"{head}; run `cc-console db upgrade`"
    )
