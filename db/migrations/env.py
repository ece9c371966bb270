"""Alembic environment for cc-console.

Runs on the engine handed over by ``cc_console.store.migrations`` (or, when Alembic is run
by hand, on the database of the cc-console settings). Monthly partitions are maintained by
``cc-console db maintain``, not by migrations, so autogenerate ignores them.
"""

from __future__ import annotations

import re

from alembic import context
from sqlalchemy import text

from cc_console.store.models import Base

PARTITION_NAME = re.compile(r"^cc_api_(request|response)_log_(p\d{4}_\d{2}|default)$")
MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('cc-console:migrate'))"


def include_name(name, type_, parent_names):  # type: ignore[no-untyped-def]
    if type_ == "table":
        # procrastinate's tables (and our record of their version) are migrated by SQL that
        # procrastinate ships, not modelled: store/queue_schema.py
        if name is not None and (name.startswith("procrastinate") or name == "cc_queue_schema"):
            return False
        return name is None or not PARTITION_NAME.match(name)
    return True


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostgreSQL clones each FK that points at a partitioned table once per partition
    if type_ == "foreign_key_constraint" and reflected:
        return not PARTITION_NAME.match(obj.referred_table.name)
    return True


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        from cc_console.settings import load_settings
        from cc_console.store.database import open_database

        engine = open_database(load_settings(), migrate=False).engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_name=include_name,
            include_object=include_object,
            compare_type=True,
            compare_server_default=False,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            # concurrent first uses serialise here; the loser sees the winner's revision
            connection.execute(text(MIGRATION_LOCK))
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("cc-console migrations run online only: use `cc-console db upgrade`")
run_migrations_online()
