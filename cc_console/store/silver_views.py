"""Typed views over ``cc_silver_record``: one per (config, resource), in a schema of their own.

``<schema>.<config>__<resource>`` shows the live rows (``_deleted_at`` is NULL), ``…__all``
the soft-deleted ones too; both read Silver itself, so they are never stale. Their columns
are planned in :mod:`.silver_columns`: the types come from the template's ``$metadata``,
the built-in schema, or — for a property no schema declares — the JSON kinds its records
hold. A refresh appends new properties (``CREATE OR REPLACE VIEW``); a retyped one needs a
drop and create, in one transaction under ``lock_timeout``, re-granting what the view had —
and is refused, naming them, while other objects depend on the view.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import NotFoundError, UsageError
from ..odata.resources import builtin_edm_types, effective_key, resource_name
from .silver_columns import (
    HISTORY_LINEAGE,
    LINEAGE,
    CastMode,
    ViewColumn,
    cast_sql,
    fallback_functions,
    history_columns,
    ident,
    literal,
    observed_type,
    pg_name,
    pg_type,
    plan_columns,
    snake_case,
)

__all__ = [
    "DEFAULT_SCHEMA",
    "ViewResult",
    "ViewSpec",
    "cast_mode",
    "check_schema",
    "existing_view",
    "landed_select",
    "refresh_resource",
    "refresh_views",
    "view_specs",
    "views_to_refresh",
]

DEFAULT_SCHEMA = "silver"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('cc_silver_views'))"
# the (config, resource) pairs Silver holds, one primary-key probe each (a loose index scan)
_LANDED = """
    WITH RECURSIVE pairs AS (
        (SELECT config_id, resource_path FROM cc_silver_record
         ORDER BY config_id, resource_path LIMIT 1)
        UNION ALL
        SELECT n.config_id, n.resource_path FROM pairs p CROSS JOIN LATERAL (
            SELECT s.config_id, s.resource_path FROM cc_silver_record s
            WHERE (s.config_id, s.resource_path) > (p.config_id, p.resource_path)
            ORDER BY s.config_id, s.resource_path LIMIT 1) n
    )
    SELECT config_id, resource_path FROM pairs
"""


@dataclass(frozen=True)
class ViewSpec:
    """What one view shows: a config's Silver rows of one resource, their key and the Edm
    types declared for them (in declaration order)."""

    config_id: uuid.UUID
    config: str
    resource_path: str  # as Silver stores it: /subjects, /Orders
    key: tuple[str, ...]
    declared: dict[str, str]
    name: str  # the view's name, without the schema

    history: bool = False  # a template of it keeps history (template add --history)

    @property
    def all_name(self) -> str:
        """The view that shows the soft-deleted rows too."""
        return f"{self.name}__all"

    @property
    def history_name(self) -> str:
        """The view of the replaced versions (cc_silver_history)."""
        return f"{self.name}__history"


@dataclass
class ViewResult:
    """What a refresh did to one view, and the values of its columns that did not cast."""

    spec: ViewSpec
    schema: str
    action: str  # created, extended, recreated, unchanged, blocked, locked
    history: bool = False  # the …__history view is there
    columns: list[ViewColumn] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    dependents: list[str] = field(default_factory=list)
    rows: int = 0
    non_castable: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``silver views --json`` prints."""
        return {
            "view": f"{self.schema}.{self.spec.name}",
            "all_view": f"{self.schema}.{self.spec.all_name}",
            "history_view": f"{self.schema}.{self.spec.history_name}" if self.history else None,
            "config": self.spec.config,
            "resource": self.spec.resource_path,
            "action": self.action,
            "rows": self.rows,
            "added": self.added,
            "retyped": self.retyped,
            "dependents": self.dependents,
            "non_castable": sum(self.non_castable.values()),
            "columns": [
                {
                    "name": c.name,
                    "type": c.type,
                    "property": c.prop,
                    "non_castable": self.non_castable.get(c.name, 0),
                }
                for c in self.columns
            ],
        }


def cast_mode(conn: Connection) -> CastMode:
    """``valid`` (``pg_input_is_valid``) on PostgreSQL 16+, else ``function``."""
    version = int(conn.execute(text("SELECT current_setting('server_version_num')")).scalar_one())
    return "valid" if version >= 160000 else "function"


def check_schema(conn: Connection, schema: str) -> None:
    """Refuse a schema name that is not a plain identifier, or a schema that holds more than
    views (the views get a schema of their own)."""
    if not _SCHEMA_NAME.fullmatch(schema) or schema.startswith("pg_"):
        raise UsageError(f"--schema {schema!r}: use a lower-case name like silver (a-z, 0-9, _)")
    if schema in ("public", "information_schema"):
        raise UsageError(f"--schema {schema}: the views need a schema of their own")
    other = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :s AND c.relkind NOT IN ('v', 'S') LIMIT 1"
        ),
        {"s": schema},
    ).scalar()
    if other is not None:
        raise UsageError(f"--schema {schema}: it holds {other}, not only views; choose another")


def view_specs(conn: Connection, config: str | None = None) -> list[ViewSpec]:
    """One spec per (config, resource) that has a template or Silver rows, by config, resource
    (``config``: that config's only; names are chosen over every config, so they are the
    same either way)."""
    configs = conn.execute(
        text("SELECT id, name, dialect FROM cc_api_client_config ORDER BY name")
    ).all()
    if config is not None and config not in {row.name for row in configs}:
        raise NotFoundError(f"no config named {config!r} (see `cc-console config list`)")
    templates = conn.execute(
        text(
            "SELECT config_id, resource_path, record_key, record_schema, keep_history"
            " FROM cc_odata_query_template ORDER BY created_at"
        )
    ).all()
    landed = conn.execute(text(_LANDED)).all()
    specs: list[ViewSpec] = []
    names: set[str] = set()
    for config_id, config_name, dialect in configs:
        found: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {}
        history: set[str] = set()
        for row in templates:
            if row.config_id != config_id:
                continue
            path = "/" + resource_name(row.resource_path)
            key = effective_key(row.record_key, row.resource_path, dialect) or ()
            declared = dict((row.record_schema or {}).get("properties") or {})
            if row.record_schema is None and dialect == "clinical-conductor":
                declared = builtin_edm_types(path[1:])
            old_key, old_declared = found.get(path, ((), {}))
            found[path] = (old_key or key, {**old_declared, **declared})
            if row.keep_history:
                history.add(path)
        for landed_config, path in landed:
            if landed_config == config_id and path not in found:
                key = effective_key(None, path, dialect) or ()
                builtin = builtin_edm_types(path[1:]) if dialect == "clinical-conductor" else {}
                found[path] = (key, builtin)
        for path in sorted(found):
            # room for the longest suffix, __history, within 63 bytes
            name = pg_name(f"{snake_case(config_name)}__{snake_case(path)}", 54)
            if name in names:  # two resources of one snake name
                name = pg_name(f"{name}_{uuid.uuid5(config_id, path).hex[:8]}", 54)
            names.add(name)
            key, declared = found[path]
            specs.append(
                ViewSpec(config_id, config_name, path, key, declared, name, path in history)
            )
    return [spec for spec in specs if config is None or spec.config == config]


def _observed(conn: Connection, spec: ViewSpec) -> dict[str, str]:
    """The column type of each property the records hold (annotations aside), by name."""
    rows = conn.execute(
        text(
            "SELECT e.key, array_agg(DISTINCT jsonb_typeof(e.value)) AS kinds"
            " FROM cc_silver_record s CROSS JOIN LATERAL jsonb_each(s.payload) e"
            " WHERE s.config_id = :c AND s.resource_path = :p"
            " AND jsonb_typeof(s.payload) = 'object' AND strpos(e.key, '@') = 0"
            " GROUP BY e.key ORDER BY e.key"
        ),
        {"c": spec.config_id, "p": spec.resource_path},
    ).all()
    return {row.key: observed_type(set(row.kinds)) for row in rows}


def existing_view(conn: Connection, schema: str, name: str) -> tuple[int | None, list[ViewColumn]]:
    """The view's oid (None: no such view) and its columns in order."""
    oid = conn.execute(
        text("SELECT to_regclass(:q)::oid"), {"q": f"{ident(schema)}.{ident(name)}"}
    ).scalar()
    if oid is None:
        return None, []
    rows = conn.execute(
        text(
            "SELECT attname, format_type(atttypid, atttypmod) AS type,"
            " col_description(attrelid, attnum) AS prop FROM pg_attribute"
            " WHERE attrelid = :oid AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"oid": oid},
    ).all()
    silver = {name: column for name, column, _ in LINEAGE}
    columns = [
        ViewColumn(r.attname, r.type, None, silver[r.attname])
        if r.prop is None and r.attname in silver
        else ViewColumn(r.attname, r.type, r.prop or r.attname)
        for r in rows
    ]
    return int(oid), columns


def _select(
    spec: ViewSpec,
    columns: list[ViewColumn],
    table: str,
    mode: CastMode,
    schema: str,
    *extra: str,
) -> str:
    """The SELECT of ``columns`` over ``table``'s rows of the resource (``extra``: more
    items after them)."""
    items = ",\n    ".join(
        [*(f"{cast_sql(c, mode, schema)} AS {ident(c.name)}" for c in columns), *extra]
    )
    return (
        f"SELECT\n    {items}\nFROM {table} s\n"
        f"WHERE s.config_id = {literal(str(spec.config_id))}::uuid"
        f" AND s.resource_path = {literal(spec.resource_path)}"
    )


def landed_select(
    conn: Connection, spec: ViewSpec, columns: list[ViewColumn], view: str, schema: str
) -> str:
    """The SELECT behind ``view`` (one of ``spec``'s), its ``columns`` cast as it casts them,
    plus each row's payload as landed (``_cc_payload``): a value redacted from it has the
    fingerprint it has in the bodies, which its typed form (a date-time) may not."""
    table = "cc_silver_record"
    if view == spec.history_name:  # its lineage columns read the history row's own
        table = "cc_silver_history"
        lineage = {name: (source, type_) for name, source, type_ in HISTORY_LINEAGE}
        columns = [
            ViewColumn(c.name, lineage[c.name][1], None, lineage[c.name][0])
            if c.name in lineage
            else c
            for c in columns
        ]
    select = _select(spec, columns, table, cast_mode(conn), schema, "s.payload AS _cc_payload")
    return select + ("\n  AND s.deleted_at IS NULL" if view == spec.name else "")


def _family(spec: ViewSpec, history: bool) -> list[str]:
    """The views of one resource: live, all, and (kept) history."""
    return [spec.name, spec.all_name] + ([spec.history_name] if history else [])


def _create(
    conn: Connection,
    spec: ViewSpec,
    columns: list[ViewColumn],
    mode: CastMode,
    schema: str,
    history: bool,
) -> None:
    select = _select(spec, columns, "cc_silver_record", mode, schema)
    views = [
        (spec.name, select + "\n  AND s.deleted_at IS NULL", "the live Silver rows", columns),
        (spec.all_name, select, "the live and soft-deleted Silver rows", columns),
    ]
    if history:
        kept = history_columns(columns)
        replaced = _select(spec, kept, "cc_silver_history", mode, schema)
        views.append((spec.history_name, replaced, "the replaced versions of the rows", kept))
    for name, sql, what, shown in views:
        qualified = f"{ident(schema)}.{ident(name)}"
        conn.execute(text(f"CREATE OR REPLACE VIEW {qualified} AS\n{sql}"))
        about = f"cc-console: {what} of config {spec.config}, resource {spec.resource_path}"
        conn.execute(text(f"COMMENT ON VIEW {qualified} IS {literal(about)}"))
        for column in shown:
            if column.prop is not None:
                conn.execute(
                    text(
                        f"COMMENT ON COLUMN {qualified}.{ident(column.name)} IS "
                        + literal(column.prop)
                    )
                )


def _dependents(conn: Connection, oids: list[int]) -> list[str]:
    rows = conn.execute(
        text(
            "SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass"
            " THEN (SELECT r.ev_class::regclass::text FROM pg_rewrite r WHERE r.oid = d.objid)"
            " ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END AS dependent"
            " FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass"
            " AND d.refobjid = ANY(CAST(:oids AS oid[])) AND d.deptype = 'n'"
            " AND NOT (d.classid = 'pg_rewrite'::regclass AND (SELECT r.ev_class FROM pg_rewrite r"
            "   WHERE r.oid = d.objid) = ANY(CAST(:oids AS oid[])))"
            " ORDER BY 1"
        ),
        {"oids": oids},
    ).scalars()
    return [str(name) for name in rows]


def _grants(conn: Connection, oid: int) -> list[tuple[str, str]]:
    rows = conn.execute(
        text(
            "SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,"
            " a.privilege_type FROM pg_class c, aclexplode(c.relacl) a"
            " WHERE c.oid = :oid AND a.grantee <> c.relowner"
        ),
        {"oid": oid},
    ).all()
    return [(str(grantee), str(privilege)) for grantee, privilege in rows]


def _refresh_one(
    conn: Connection, spec: ViewSpec, schema: str, mode: CastMode, lock_timeout_ms: int
) -> ViewResult:
    conn.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
    conn.execute(text(_LOCK))
    types = {p: pg_type(edm) for p, edm in spec.declared.items()}
    properties = {**_observed(conn, spec), **types}  # a declared type wins over what was seen
    properties = {p: properties[p] for p in [*types, *sorted(set(properties) - set(types))]}
    for prop in spec.key:
        properties.setdefault(prop, "text")
    oid, old = existing_view(conn, schema, spec.name)
    columns = plan_columns(old, spec.key, properties)
    history = spec.history or existing_view(conn, schema, spec.history_name)[0] is not None
    result = ViewResult(spec, schema, "created", history, columns)
    if oid is None:
        _create(conn, spec, columns, mode, schema, history)
        return result
    result.added = [c.name for c in columns[len(old) :]]
    result.retyped = [new.name for new, was in zip(columns, old, strict=False) if new != was]
    if not result.retyped:
        _create(conn, spec, columns, mode, schema, history)
        result.action = "extended" if result.added else "unchanged"
        return result
    found = {name: existing_view(conn, schema, name)[0] for name in _family(spec, history)}
    oids = {name: view_oid for name, view_oid in found.items() if view_oid is not None}
    result.dependents = _dependents(conn, list(oids.values()))
    if result.dependents:
        result.action = "blocked"
        return result
    grants = {name: _grants(conn, view_oid) for name, view_oid in oids.items()}
    for name in oids:
        conn.execute(text(f"DROP VIEW {ident(schema)}.{ident(name)}"))
    _create(conn, spec, columns, mode, schema, history)
    for name, granted in grants.items():
        for grantee, privilege in granted:
            conn.execute(text(f"GRANT {privilege} ON {ident(schema)}.{ident(name)} TO {grantee}"))
    result.action = "recreated"
    return result


def _count(conn: Connection, result: ViewResult, mode: CastMode) -> None:
    """Rows of the resource (deleted too) and, per castable column, values that did not cast."""
    castable = [c for c in result.columns if c.castable and c.prop is not None]
    parts = ["count(*) AS rows"] + [
        f"count(*) FILTER (WHERE (s.payload ->> {literal(c.prop)}) IS NOT NULL"
        f" AND {cast_sql(c, mode, result.schema)} IS NULL)"
        for c in castable
        if c.prop is not None
    ]
    row = conn.execute(
        text(
            f"SELECT {', '.join(parts)} FROM cc_silver_record s"
            " WHERE s.config_id = :c AND s.resource_path = :p"
        ),
        {"c": result.spec.config_id, "p": result.spec.resource_path},
    ).one()
    result.rows = int(row[0])
    result.non_castable = {c.name: int(n) for c, n in zip(castable, row[1:], strict=True) if n}


def _prepare(conn: Connection, schema: str, mode: CastMode | None) -> CastMode:
    """Check the schema, create it (and the safe-cast functions where needed): the cast mode."""
    check_schema(conn, schema)
    mode = mode or cast_mode(conn)
    conn.execute(text(_LOCK))
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}"))
    if mode == "function":
        for statement in fallback_functions(schema):
            conn.execute(text(statement))
    return mode


def refresh_views(
    engine: Engine,
    specs: list[ViewSpec],
    *,
    schema: str = DEFAULT_SCHEMA,
    mode: CastMode | None = None,
    lock_timeout_ms: int = 5000,
) -> list[ViewResult]:
    """Create or refresh the views of ``specs`` (one transaction each) and count their values
    that do not cast; ``mode`` defaults to what the server supports."""
    with engine.begin() as conn:
        mode = _prepare(conn, schema, mode)
    results = []
    for spec in specs:
        try:
            with engine.begin() as conn:
                result = _refresh_one(conn, spec, schema, mode, lock_timeout_ms)
        except DBAPIError as exc:
            if not isinstance(exc.orig, psycopg.errors.LockNotAvailable):
                raise
            result = ViewResult(spec, schema, "locked")
        if result.action not in ("blocked", "locked"):
            with engine.connect() as conn:
                _count(conn, result, mode)
        results.append(result)
    return results


def refresh_resource(
    conn: Connection,
    config_id: uuid.UUID,
    resource_path: str,
    *,
    schema: str = DEFAULT_SCHEMA,
    lock_timeout_ms: int = 5000,
) -> ViewResult | None:
    """Refresh the views of one (config, Silver resource) in the caller's transaction, without
    counting (what follows a run of a template added with --views); None: no such resource."""
    mode = _prepare(conn, schema, None)
    spec = next(
        (
            s
            for s in view_specs(conn)
            if (s.config_id, s.resource_path) == (config_id, resource_path)
        ),
        None,
    )
    return None if spec is None else _refresh_one(conn, spec, schema, mode, lock_timeout_ms)


async def views_to_refresh(
    conn: AsyncConnection, run_id: uuid.UUID
) -> tuple[uuid.UUID, str] | None:
    """The (config, Silver resource) whose views follow this run: it succeeded and its
    template was added with --views; else None."""
    row = (
        await conn.execute(
            text(
                "SELECT r.config_id, t.resource_path FROM cc_sync_run r"
                " JOIN cc_odata_query_template t ON t.id = r.template_id"
                " WHERE r.id = :id AND r.status = 'succeeded' AND t.refresh_views"
            ),
            {"id": run_id},
        )
    ).one_or_none()
    return None if row is None else (row.config_id, "/" + resource_name(row.resource_path))
