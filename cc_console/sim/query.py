"""OData query options as the simulated Clinical Conductor understands them.

``$filter`` is typed as the vendor's ASP.NET Web API OData stack types it: each property has
an Edm type (from the documented field types — the records' own values, and the fields the
generator leaves null declared by hand); an operator between incompatible types, a date-only
literal against a date-time, a quoted date-time, a string against a number — all are a 400
with the vendor's body. ``in (…)``, ``year()``, ``contains/startswith/endswith``, ``tolower``/
``toupper``/``length``, paths like ``study/id``. The parser is the simulator's own OData one
(``odata4/query.py``); no code is shared with the client's ``odata/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .odata4.query import ODataQueryError, filter_bounds
from .odata4.query import compile_filter as compile_typed_filter

__all__ = [
    "QueryError",
    "compile_filter",
    "compile_filter_seek",
    "compile_orderby",
    "compile_seek",
    "compile_select",
    "edm_types",
]

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]
INVALID = "The query specified in the URI is not valid. "


class QueryError(ValueError):
    """The query is not valid; the message is the vendor-style explanation."""


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# fields the generator always leaves null: their documented types ([C] in the reference)
_DECLARED = {
    "importId": "Edm.Int64",
    "treatmentStart": "Edm.DateTimeOffset",
    "approvedOn": "Edm.DateTimeOffset",
    "paymentDate": "Edm.DateTimeOffset",
}


def _edm(value: Any) -> str | None:
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, int):
        return "Edm.Int32"
    if isinstance(value, float):
        return "Edm.Double"
    if isinstance(value, str):
        if _GUID.match(value):
            return "Edm.Guid"
        return "Edm.DateTimeOffset" if _DATETIME.match(value) else "Edm.String"
    return None


def edm_types(samples: list[Record]) -> dict[str, str]:
    """Path → Edm type of a resource, read off sample records (nested objects as paths)."""
    types: dict[str, str] = {}

    def walk(record: Record, prefix: str) -> None:
        for name, value in record.items():
            path = f"{prefix}{name}"
            if isinstance(value, dict):
                walk(value, f"{path}/")
            elif isinstance(value, list):
                types.setdefault(path, "Collection")
            elif (edm := _edm(value)) is not None:
                types[path] = edm
            else:
                types.setdefault(path, _DECLARED.get(name, "Edm.String"))

    for sample in samples:
        walk(sample, "")
    return types


def _path_getter(path: str, schema: Record, type_name: str) -> Getter:
    parts = path.split("/")
    node: Any = schema
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise QueryError(
                "The query specified in the URI is not valid. "
                f"Could not find a property named '{part}' on type '{type_name}'."
            )
        node = node[part]

    def get(record: Record) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


def compile_filter(text: str, types: dict[str, str], type_name: str) -> Predicate:
    """A predicate for ``$filter`` text over properties typed ``types``; QueryError (the
    vendor's message) when the vendor would refuse it."""
    try:
        return compile_typed_filter(text, types, type_name)
    except ODataQueryError as exc:
        raise QueryError(INVALID + str(exc)) from None


Seek = tuple[Callable[[Record], Any], Any]


def compile_filter_seek(
    text: str, types: dict[str, str], type_name: str, orderby: str | None
) -> tuple[Predicate, Seek | None]:
    """The predicate of ``$filter`` and, from the same parse, where a scan in ``$orderby``
    order may start: the typed getter of its first property (when ascending) and the lower
    bound the filter implies for it (None when there is none)."""
    try:
        predicate, bounds, getter = filter_bounds(text, types, type_name)
    except ODataQueryError as exc:
        raise QueryError(INVALID + str(exc)) from None
    first = (orderby or "").split(",")[0].split()
    if not first or (len(first) == 2 and first[1].lower() == "desc") or first[0] not in bounds:
        return predicate, None
    return predicate, (getter(first[0]), bounds[first[0]])


def compile_seek(
    text: str, types: dict[str, str], type_name: str, orderby: str | None
) -> Seek | None:
    """Only the seek of :func:`compile_filter_seek`."""
    return compile_filter_seek(text, types, type_name, orderby)[1]


def compile_orderby(text: str, schema: Record, type_name: str) -> list[tuple[Getter, bool]]:
    """``[(getter, descending), ...]`` for ``$orderby`` text."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise QueryError(f"The $orderby expression '{text}' is not valid.")
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"Syntax error in $orderby at '{part}'.")
        keys.append(
            (
                _path_getter(words[0], schema, type_name),
                len(words) == 2 and words[1].lower() == "desc",
            )
        )
    return keys


def compile_select(text: str, schema: Record, type_name: str) -> list[str]:
    """Top-level property names of ``$select``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name != "*" and name not in schema:
            raise QueryError(
                "The query specified in the URI is not valid. "
                f"Could not find a property named '{name}' on type '{type_name}'."
            )
    return [] if "*" in names else names
