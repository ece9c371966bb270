"""Redaction tests; :func:`rows_at` reads a database by URL, as a given role may."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool


def rows_at(url: str, sql: str) -> list[Any]:
    """The rows of ``sql`` on the database at ``url`` (a connection of its own)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()
