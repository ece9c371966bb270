"""Rows as plain dicts: ORM rows for JSON output, result rows for the console's tables."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from .models import Base

__all__ = ["fetch_dicts", "row_as_dict"]


async def fetch_dicts(conn: AsyncConnection, sql: Any, **params: Any) -> list[dict[str, Any]]:
    """The rows of ``sql`` as plain dicts (the console's display rows)."""
    return [dict(r) for r in (await conn.execute(sql, params)).mappings()]


def row_as_dict(row: Base) -> dict[str, Any]:
    """Every column of ``row``: timestamps as ISO-8601, UUIDs as text."""
    result: dict[str, Any] = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, uuid.UUID):
            value = str(value)
        result[column.key] = value
    return result
