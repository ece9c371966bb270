"""Turn ORM rows into JSON-ready dicts."""

from __future__ import annotations

import uuid
from typing import Any

from .models import Base

__all__ = ["row_as_dict"]


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
