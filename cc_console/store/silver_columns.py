"""The columns of a typed Silver view: names, PostgreSQL types and the casts out of the payload.

Pure: no I/O. A view of one (config, resource) has the record key's columns first, then the
lineage columns, then one column per property — in the order they first appeared, so drift
only appends. Names are snake_case; a name over PostgreSQL's 63 bytes keeps a readable head
and ends in a hash of the whole name (never a silent cut, never two columns of one name).

A value that does not cast becomes NULL (a view never fails on one bad row): on PostgreSQL
16+ the cast is guarded by ``pg_input_is_valid``; on 14–15 it goes through an immutable
safe-cast function of the view's schema (``cc_try_<type>``, see :func:`fallback_functions`).
A date-time without an offset is read as UTC, as the incremental sync reads it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "HISTORY_LINEAGE",
    "LINEAGE",
    "MAX_IDENTIFIER_BYTES",
    "CastMode",
    "ViewColumn",
    "cast_sql",
    "fallback_functions",
    "history_columns",
    "ident",
    "literal",
    "observed_type",
    "pg_name",
    "pg_type",
    "plan_columns",
    "snake_case",
]

MAX_IDENTIFIER_BYTES = 63
CastMode = Literal["valid", "function"]

# lineage into the audit trail, between the key and the properties: (column, Silver column, type)
LINEAGE = (
    ("_landed_at", "last_seen_at", "timestamp with time zone"),
    ("_run_id", "last_run_id", "uuid"),
    ("_response_id", "last_response_id", "uuid"),
    ("_deleted_at", "deleted_at", "timestamp with time zone"),
)

# a history view's lineage, in place of LINEAGE: the version's time span, the run and response
# that wrote it and those that replaced it
HISTORY_LINEAGE = (
    ("_valid_from", "valid_from", "timestamp with time zone"),
    ("_valid_to", "valid_to", "timestamp with time zone"),
    ("_run_id", "run_id", "uuid"),
    ("_response_id", "response_id", "uuid"),
    ("_replaced_by_run_id", "replaced_by_run_id", "uuid"),
    ("_replaced_by_response_id", "replaced_by_response_id", "uuid"),
)

_EDM_PG = {
    "Edm.Int16": "integer",
    "Edm.Int32": "integer",
    "Edm.Byte": "integer",
    "Edm.SByte": "integer",
    "Edm.Int64": "bigint",
    "Edm.Decimal": "numeric",
    "Edm.Double": "double precision",
    "Edm.Single": "double precision",
    "Edm.Boolean": "boolean",
    "Edm.Date": "date",
    "Edm.DateTimeOffset": "timestamp with time zone",
    "Edm.Guid": "uuid",
    "Edm.String": "text",
}
# the JSON kinds a property without a declared type was seen with -> its column type
_OBSERVED_PG = {"number": "numeric", "boolean": "boolean", "string": "text"}
# the safe-cast function of each type (PostgreSQL 14-15)
_FUNCTION = {
    "integer": "int4",
    "bigint": "int8",
    "numeric": "numeric",
    "double precision": "float8",
    "boolean": "bool",
    "date": "date",
    "uuid": "uuid",
    "timestamp with time zone": "timestamptz",
}
# an explicit offset (or Z) after a time of day: cast as timestamptz; otherwise read as UTC
_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(z|[+-]\d\d(:?\d\d)?)$"


def pg_type(edm_type: str) -> str:
    """The column type of an Edm type: primitives as the issue maps them, the rest jsonb."""
    return _EDM_PG.get(edm_type, "jsonb")


def observed_type(kinds: set[str]) -> str:
    """The column type of a property only records declare: their JSON kinds (null aside)."""
    kinds = kinds - {"null"}
    if not kinds or kinds & {"object", "array"}:
        return "jsonb"
    return _OBSERVED_PG[kinds.pop()] if len(kinds) == 1 else "text"


def snake_case(name: str) -> str:
    """``CustomerID`` → ``customer_id``, ``lastUpdatedOn`` → ``last_updated_on``."""
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", spaced)
    snake = re.sub(r"[^0-9a-z]+", "_", spaced.lower()).strip("_")
    if not snake:
        return "col"
    return f"c_{snake}" if snake[0].isdigit() else snake


def pg_name(name: str, budget: int = MAX_IDENTIFIER_BYTES) -> str:
    """``name`` when it fits ``budget`` bytes, else its head and an 8-digit hash of it all."""
    if len(name.encode()) <= budget:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    head = name.encode()[: budget - 9].decode(errors="ignore").rstrip("_")
    return f"{head}_{digest}"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal (standard_conforming_strings is on since 9.1)."""
    if "\x00" in value:
        raise ValueError("a NUL character cannot be in a name")
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class ViewColumn:
    """One column of a view: its name, type and where its value comes from."""

    name: str
    type: str
    prop: str | None  # the payload property; None for a lineage column
    silver: str | None = None  # the Silver column of a lineage column

    @property
    def castable(self) -> bool:
        """True when a value can fail to cast (text and jsonb never do)."""
        return self.type not in ("text", "jsonb") and self.prop is not None


def cast_sql(column: ViewColumn, mode: CastMode, schema: str, alias: str = "s") -> str:
    """The expression of ``column`` over Silver row ``alias`` (NULL where the value does not
    cast)."""
    if column.prop is None:
        return f"{alias}.{column.silver}"
    if column.type == "jsonb":
        return f"({alias}.payload -> {literal(column.prop)})"
    raw = f"({alias}.payload ->> {literal(column.prop)})"
    if column.type == "text":
        return raw
    if mode == "function":
        return f"{ident(schema)}.cc_try_{_FUNCTION[column.type]}({raw})"
    if column.type == "timestamp with time zone":
        return (
            f"CASE WHEN {raw} ~* '{_OFFSET}' THEN CASE WHEN pg_input_is_valid({raw},"
            f" 'timestamptz') THEN CAST({raw} AS timestamptz) END"
            f" WHEN pg_input_is_valid({raw}, 'timestamp')"
            f" THEN CAST({raw} AS timestamp) AT TIME ZONE 'UTC' END"
        )
    return f"CASE WHEN pg_input_is_valid({raw}, {literal(column.type)}) THEN CAST({raw} AS {column.type}) END"


def fallback_functions(schema: str) -> list[str]:
    """The safe-cast functions of PostgreSQL 14–15, one per type (``CREATE OR REPLACE``)."""
    statements = []
    for type_name, suffix in _FUNCTION.items():
        body = "RETURN CAST(v AS " + type_name + ");"
        if suffix == "timestamptz":
            body = (
                f"IF v ~* '{_OFFSET}' THEN RETURN CAST(v AS timestamptz); END IF;"
                " RETURN CAST(v AS timestamp) AT TIME ZONE 'UTC';"
            )
        statements.append(
            f"CREATE OR REPLACE FUNCTION {ident(schema)}.cc_try_{suffix}(v text)"
            f" RETURNS {type_name} LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS"
            f" $cc$ BEGIN {body} EXCEPTION WHEN others THEN RETURN NULL; END $cc$"
        )
    return statements


def plan_columns(
    existing: list[ViewColumn],
    key: tuple[str, ...],
    properties: dict[str, str],
) -> list[ViewColumn]:
    """The view's columns: ``existing`` ones in their order (typed anew where their property is
    still known), then the new ones; ``properties`` maps each property (the key's too) to its
    column type."""
    columns: list[ViewColumn] = []
    used: set[str] = set()
    placed: set[str] = set()

    def add(prop: str) -> None:
        name = pg_name(snake_case(prop))
        if name in used:  # a second property of one snake name: tell them apart by a hash
            name = pg_name(f"{name}_{hashlib.sha256(prop.encode()).hexdigest()[:8]}")
        used.add(name)
        placed.add(prop)
        columns.append(ViewColumn(name, properties.get(prop, "text"), prop))

    if existing:  # the order the view has: keys, lineage, properties
        for column in existing:
            used.add(column.name)
            if column.prop is None:
                columns.append(column)
                continue
            placed.add(column.prop)
            wanted = properties.get(column.prop, column.type)
            columns.append(ViewColumn(column.name, wanted, column.prop))
    else:
        used.update(name for name, _, _ in LINEAGE)
        for prop in key:
            add(prop)
        columns += [ViewColumn(name, type_, None, silver) for name, silver, type_ in LINEAGE]
    for prop in properties:
        if prop not in placed:
            add(prop)
    return columns


def history_columns(columns: list[ViewColumn]) -> list[ViewColumn]:
    """A history view's columns: the view's key and properties around the history lineage."""
    first = next(n for n, c in enumerate(columns) if c.name == LINEAGE[0][0])
    lineage = [ViewColumn(name, type_, None, source) for name, source, type_ in HISTORY_LINEAGE]
    return columns[:first] + lineage + columns[first + len(LINEAGE) :]
