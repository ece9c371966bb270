"""Record keys: one or more properties that identify an entity (OData's ``Key/PropertyRef``).

A key value is usable when every key property is present and a scalar (not null, not an
object or array). Within the engine a key is compared as text: the property's value for a
single key, the JSON array of the values for a composite one.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["Key", "key_text", "key_values", "parse_key"]

Key = tuple[str, ...]


def parse_key(text: str) -> Key:
    """``OrderID`` or ``OrderID,LineNumber`` → the property names, in order."""
    names = tuple(part.strip() for part in text.split(","))
    if not names or any(not name for name in names):
        raise ValueError("a key is one property name, or several separated by commas")
    if len(set(names)) != len(names):
        raise ValueError("a key names each property once")
    return names


def _scalar(value: Any) -> bool:
    return value is not None and not isinstance(value, (dict, list))


def key_values(record: dict[str, Any], key: Key) -> tuple[Any, ...] | None:
    """The record's key values in order, or None when one is missing or not a scalar."""
    values = tuple(record.get(name) for name in key)
    return values if all(_scalar(v) for v in values) else None


def key_text(record: dict[str, Any], key: Key) -> str | None:
    """The record's key as text, or None when a key property is missing or not a scalar."""
    if len(key) == 1:
        value = record.get(key[0])
        if not _scalar(value):
            return None
        return str(value).lower() if isinstance(value, bool) else str(value)
    values = key_values(record, key)
    return None if values is None else orjson.dumps(list(values)).decode()
