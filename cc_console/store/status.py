"""What ``db status`` reports: server, schema revision, table sizes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from .database import Database
from .migrations import current_revision, head_revision
from .models import Base

__all__ = ["EXACT_COUNT_MAX_BYTES", "database_status"]

EXACT_COUNT_MAX_BYTES = 64 * 1024 * 1024  # up to here a count(*) is quick

_TABLE_SIZES = text(
    """
    SELECT t.relname AS name,
           COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS bytes,
           COALESCE(SUM(c.reltuples) FILTER (WHERE c.reltuples > 0), 0)::bigint AS rows_estimate,
           COUNT(p.relid) FILTER (WHERE p.isleaf AND p.level > 0) AS partitions
    FROM pg_class t
    LEFT JOIN LATERAL pg_partition_tree(t.oid) p ON true
    JOIN pg_class c ON c.oid = COALESCE(p.relid, t.oid)
    WHERE t.relname = ANY(:names) AND t.relnamespace = 'public'::regnamespace
    GROUP BY t.relname
    ORDER BY t.relname
    """
)


def database_status(database: Database) -> dict[str, Any]:
    """A JSON-ready summary of the database in use."""
    with database.engine.connect() as conn:
        version = conn.scalar(text("SHOW server_version"))
        rows = conn.execute(_TABLE_SIZES, {"names": sorted(Base.metadata.tables)}).mappings()
        tables = [dict(row) for row in rows]
        for table in tables:  # small tables are counted: an estimate says 0 before ANALYZE
            exact = table["bytes"] <= EXACT_COUNT_MAX_BYTES
            table["rows_exact"] = exact
            table["rows"] = (
                conn.scalar(text(f'SELECT count(*) FROM "{table["name"]}"'))
                if exact
                else table["rows_estimate"]
            )
    revision = current_revision(database)
    return {
        "url": database.display_url,
        "embedded": database.embedded,
        "server_version": version,
        "schema_revision": revision,
        "schema_head": head_revision(),
        "up_to_date": revision == head_revision(),
        "tables": tables,
    }
