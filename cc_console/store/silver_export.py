"""Exporting a typed Silver view: a filter over its columns and a streamed read.

The filter is the audit browser's grammar (:func:`.audit_query.filter_terms`) over the view's
columns — never SQL from the user: ``status:Enrolled`` (equal; ``*`` is a wildcard in text),
``launch_year:>2020`` (``>`` ``>=`` ``<`` ``<=``), ``study.id:42`` (a path into a jsonb
column, compared as text), ``screening_number:null``, ``!status:Withdrawn``, and
``since:7d`` / ``until:1h`` over ``_landed_at`` (``_valid_to`` in a history view). Terms are
ANDed; the equal terms of one column are ORed. Values are bound parameters cast to the
column's type.

Rows stream in constant memory: CSV is ``COPY … TO STDOUT (FORMAT csv, HEADER)`` itself
(PostgreSQL's text of each value; NULL empty, an empty string ``""``), JSON lines are
PostgreSQL's ``to_json`` of each row (numbers stay numbers, times ISO 8601) read through a
server-side cursor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError

from ..errors import UsageError
from ..redaction import Policy
from .audit_query import AuditFilterError, filter_terms, term_duration
from .silver_columns import ViewColumn, ident, literal
from .silver_views import existing_view

__all__ = ["ExportQuery", "ExportFormat", "export_lines", "export_query", "view_columns"]

ExportFormat = Literal["csv", "jsonl"]
_COMPARE = re.compile(r"(>=|<=|>|<)(.+)")
_PATH = re.compile(r"[A-Za-z0-9_]+")
BATCH = 2000


@dataclass
class ExportQuery:
    """A view and the WHERE clause of a filter over it, with its parameters; ``redacted``
    maps a column to the SQL that shows it redacted (:meth:`redact`)."""

    schema: str
    view: str
    columns: list[ViewColumn]
    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    redacted: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # a SELECT read instead of the view (landed_select)

    def redact(self, policy: Policy, landed: str | None = None) -> list[str]:
        """Show the columns ``policy`` reaches as the auditor's views would (the names of
        those it redacts). A column a path names whole (``$.lastName``, ``$..lastName``)
        becomes the fingerprint of its value as landed — read from ``landed``
        (``silver_views.landed_select``), so it is the fingerprint the bodies show even where
        the view types it otherwise (a date-time); without it, of the typed value. A jsonb
        column is walked by the policy as the record's member."""
        for column in self.columns:
            if column.prop is None:
                continue
            whole = any(
                len(steps) == 1 and steps[0][0] in ("k", "..") and steps[0][1] == column.prop
                for steps in policy.steps
            )
            value = f"v.{ident(column.name)}"
            if whole and landed is not None:
                self.source = landed
                as_landed = f"v._cc_payload -> {literal(column.prop)}"
                self.redacted[column.name] = f"(cc_redaction.mark({as_landed}) #>> '{{}}')"
            elif whole:
                self.redacted[column.name] = f"(cc_redaction.mark(to_jsonb({value})) #>> '{{}}')"
            elif column.type == "jsonb" and any(
                steps[0] == ("k", column.prop) or steps[0][0] == ".." for steps in policy.steps
            ):
                record = f"jsonb_build_object({literal(column.prop)}, {value})"
                steps = literal(json.dumps(policy.steps_json()))
                self.redacted[column.name] = (
                    f"(cc_redaction.record({record}, CAST({steps} AS jsonb))"
                    f" -> {literal(column.prop)})"
                )
        return list(self.redacted)

    def select_sql(self) -> str:
        """The SELECT of the export: the view's rows, filtered, redacted columns replaced."""
        if not self.redacted:
            return f"SELECT * FROM {self.qualified} v{self.where_sql()}"
        items = ", ".join(
            f"{self.redacted[c.name]} AS {ident(c.name)}"
            if c.name in self.redacted
            else f"v.{ident(c.name)}"
            for c in self.columns
        )
        source = f"({self.source})" if self.source else self.qualified
        return f"SELECT {items} FROM {source} v{self.where_sql()}"

    @property
    def qualified(self) -> str:
        """The view's quoted, schema-qualified name."""
        return f"{ident(self.schema)}.{ident(self.view)}"

    def where_sql(self) -> str:
        """The WHERE clause (empty without terms)."""
        return f" WHERE {' AND '.join(self.where)}" if self.where else ""


def view_columns(engine: Engine, schema: str, view: str) -> list[ViewColumn]:
    """The view's columns; UsageError when there is no such view."""
    with engine.connect() as conn:
        oid, columns = existing_view(conn, schema, view)
    if oid is None:
        raise UsageError(f"no view {schema}.{view}: create it with `cc-console silver views`")
    return columns


def _condition(
    column: ViewColumn, term: str, key: str, value: str, query: ExportQuery
) -> tuple[str, bool]:
    """The SQL of one term and whether it is an equality (those of one column are ORed)."""
    path = key.split(".")[1:]
    target, type_ = ident(column.name), column.type
    if path:
        if column.type != "jsonb" or not all(_PATH.fullmatch(p) for p in path):
            raise UsageError(f"filter: {term}: a path (a.b) goes into a jsonb column only")
        target, type_ = f"({target} #>> {literal('{' + ','.join(path) + '}')})", "text"
    if value == "null":
        return f"{target} IS NULL", True
    if type_ == "jsonb":
        raise UsageError(f"filter: {term}: compare a jsonb column by a path, e.g. study.id:42")
    compare = _COMPARE.fullmatch(value)
    operator, value = (compare[1], compare[2]) if compare else ("=", value)
    name = f"p{len(query.params)}"
    if operator == "=" and type_ == "text" and "*" in value:
        pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query.params[name] = pattern.replace("*", "%")
        return f"{target} LIKE :{name}", True
    query.params[name] = value
    return f"{target} {operator} CAST(:{name} AS {type_})", operator == "="


def export_query(engine: Engine, schema: str, view: str, filter_text: str) -> ExportQuery:
    """The view's columns and the filter's WHERE clause; UsageError names a bad term."""
    columns = view_columns(engine, schema, view)
    query = ExportQuery(schema, view, columns)
    by_name = {c.name: c for c in columns}
    equal: dict[str, list[str]] = {}
    try:
        terms = filter_terms(filter_text)
    except AuditFilterError as exc:
        raise UsageError(f"filter: {exc}") from None
    for term in terms:
        if term.key is None:
            raise UsageError(f"filter: {term.text}: a bare word; use column:value")
        if not term.value:
            raise UsageError(f"filter: {term.text}: missing value")
        if term.key in ("since", "until"):
            if term.negated:
                raise UsageError(f"filter: {term.text}: {term.key} cannot be negated")
            try:
                length = term_duration(term.text, term.value)
            except AuditFilterError as exc:
                raise UsageError(f"filter: {exc}") from None
            name = f"p{len(query.params)}"
            query.params[name] = length
            operator = ">=" if term.key == "since" else "<="
            stamp = "_landed_at" if "_landed_at" in by_name else "_valid_to"  # history: replaced
            query.where.append(f"{stamp} {operator} clock_timestamp() - CAST(:{name} AS interval)")
            continue
        column = by_name.get(term.key.split(".")[0])
        if column is None:
            raise UsageError(
                f"filter: {term.text}: no column {term.key.split('.')[0]!r} in {schema}.{view}"
                f" (columns: {', '.join(by_name)})"
            )
        condition, is_equal = _condition(column, term.text, term.key, term.value, query)
        if term.negated:
            query.where.append(f"NOT COALESCE({condition}, false)")
        elif is_equal:
            equal.setdefault(term.key, []).append(condition)
        else:
            query.where.append(condition)
    query.where += ["(" + " OR ".join(parts) + ")" for parts in equal.values()]
    _check_values(engine, query)
    return query


def _check_values(engine: Engine, query: ExportQuery) -> None:
    """Refuse a filter value that is no value of its column's type, in one line."""
    try:
        with engine.connect() as conn:
            conn.execute(
                text(f"SELECT 1 FROM {query.qualified} WHERE false AND {' AND '.join(query.where)}")
                if query.where
                else text("SELECT 1"),
                query.params,
            )
    except DataError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else "a value does not cast"
        raise UsageError(f"filter: {reason}") from None


def _copy_sql(query: ExportQuery) -> str:
    """The CSV export as one COPY; the filter's values are merged in by psycopg, quoted as
    literals (COPY takes no bound parameters)."""
    select = re.sub(r":(p[0-9]+)\b", r"%(\1)s", query.select_sql().replace("%", "%%"))
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)"


def export_lines(engine: Engine, query: ExportQuery, fmt: ExportFormat) -> Iterator[list[str]]:
    """The export's lines in batches (CSV: the header first): CSV streamed by ``COPY … TO
    STDOUT``, JSON lines by ``to_json`` through a server-side cursor."""
    with engine.connect() as conn:
        if fmt == "csv":
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            with raw.cursor() as cursor, cursor.copy(_copy_sql(query), query.params) as copy:
                batch: list[str] = []
                for row in copy:  # one COPY data message per row
                    batch.append(bytes(row).decode())
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
                yield batch
            return
        sql = text(f"SELECT CAST(to_json(r) AS text) FROM ({query.select_sql()}) r")
        result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
            sql, query.params
        )
        for rows in result.partitions():
            yield [row[0] + "\n" for row in rows]
