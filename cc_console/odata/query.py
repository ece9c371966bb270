"""Building OData query strings: literals quoted and escaped, every value percent-encoded.

A template's values can never add a query option or leave a string literal: the whole
``$filter`` value is percent-encoded (``&`` → ``%26``, ``#`` → ``%23``, ``+`` → ``%2B``,
space → ``%20``), and :func:`literal` doubles single quotes inside strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

__all__ = ["encode_query", "format_filter", "literal", "stable_orderby"]

_SAFE = "$'(),/:-._~*"


def literal(value: Any) -> str:
    """``value`` as an OData v4 literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        # a bare date fails against DateTime properties on some Microsoft stacks
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no OData literal for {type(value).__name__}")


def format_filter(template: str, **values: Any) -> str:
    """Fill ``{name}`` placeholders of a filter template with literals."""
    return template.format(**{name: literal(value) for name, value in values.items()})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_query(options: Mapping[str, Any]) -> str:
    """``$filter=...&$top=...`` with each value percent-encoded; None values are left out."""
    return "&".join(
        f"{quote(name, safe='$')}={quote(_text(value), safe=_SAFE)}"
        for name, value in options.items()
        if value is not None and value != ""
    )


def _top_level_items(orderby: str) -> list[str]:
    """The comma-separated items of an ``$orderby``, commas inside parentheses kept."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in orderby:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def stable_orderby(user: str | None, key: tuple[str, ...]) -> str:
    """A total order for ``$skip`` paging: the user's ``$orderby`` (or none), then every key
    property it does not order by already, ascending."""
    items = _top_level_items(user or "")
    ordered = {item.split()[0] for item in items}
    items += [f"{name} asc" for name in key if name not in ordered]
    return ",".join(items)
