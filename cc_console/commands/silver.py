"""``cc-console silver``: typed SQL views over Silver, and streaming exports of them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import Progress
from rich.table import Table

from ..errors import UsageError
from ..odata.resources import resource_name
from ..store.operator_actions import record_action
from ..store.redaction import install_key, silver_policy
from ..store.silver_columns import snake_case
from ..store.silver_export import ExportFormat, export_lines, export_query
from ..store.silver_views import (
    DEFAULT_SCHEMA,
    ViewResult,
    ViewSpec,
    landed_select,
    refresh_views,
    view_specs,
)
from .common import console, emit_json, err_console, open_db, operator, redaction_key, settings

__all__ = ["app"]

app = typer.Typer(help="Query Silver: typed SQL views per resource, streaming exports.")

SchemaOpt = Annotated[
    str, typer.Option("--schema", help="The schema of the views (one of their own).")
]


def _views_table(results: list[ViewResult]) -> Table:
    table = Table("view", "action", "rows", "columns", "non-castable", "changes", box=None)
    for r in results:
        changes = []
        if r.added:
            changes.append("added " + ", ".join(r.added))
        if r.retyped:
            changes.append("retyped " + ", ".join(r.retyped))
        if r.dependents:
            changes.append("depended on by " + ", ".join(r.dependents))
        table.add_row(
            f"{r.schema}.{r.spec.name}" + (" (+__history)" if r.history else ""),
            r.action,
            f"{r.rows:,}",
            str(len(r.columns)),
            f"{sum(r.non_castable.values()):,}",
            "; ".join(changes),
        )
    return table


@app.command()
def views(
    config: Annotated[
        str | None, typer.Option("--config", help="Only this config's resources.")
    ] = None,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Create or refresh one typed view per (config, resource); count values that do not cast.

    SCHEMA.CONFIG__RESOURCE shows the live rows, SCHEMA.CONFIG__RESOURCE__all the
    soft-deleted ones too, SCHEMA.CONFIG__RESOURCE__history the replaced versions (templates
    added with --history). Columns: the record key, _landed_at, _run_id, _response_id,
    _deleted_at, then one per property (snake_case), typed from $metadata or the built-in
    schema. A value that does not cast reads as NULL and is counted here, per column. New
    properties are appended; a retyped one re-creates the view, unless other objects depend
    on it (exit code 1).
    """
    with open_db() as database:
        with database.engine.connect() as conn:
            specs = view_specs(conn, config)
        results = refresh_views(database.engine, specs, schema=schema)
    if json_output:
        emit_json({"schema": schema, "views": [r.as_dict() for r in results]})
    elif not results:
        console.print("no resources yet: add a template (and sync it), then run this again")
    else:
        console.print(_views_table(results))
        bad = Table("view", "column", "type", "property", "non-castable (NULL)", box=None)
        for r in results:
            for column in r.columns:
                if r.non_castable.get(column.name):
                    bad.add_row(
                        f"{r.schema}.{r.spec.name}",
                        column.name,
                        column.type,
                        column.prop or "",
                        f"{r.non_castable[column.name]:,}",
                    )
        if bad.row_count:
            console.print()
            console.print(bad)
    for r in results:
        if r.action == "blocked":
            err_console.print(
                f"{r.schema}.{r.spec.name}: {', '.join(r.retyped)} changed type; not re-created"
                f" while {', '.join(r.dependents)} depend on it — drop or alter them, then run"
                " this again"
            )
        elif r.action == "locked":
            err_console.print(
                f"{r.schema}.{r.spec.name}: busy (lock_timeout); left as it was, run this again"
            )
    if any(r.action in ("blocked", "locked") for r in results):
        raise typer.Exit(1)


def _find(specs: list[ViewSpec], config: str, resource: str) -> ViewSpec:
    wanted = {resource, "/" + resource_name(resource), snake_case(resource)}
    for spec in specs:
        names = {spec.resource_path, spec.resource_path[1:], snake_case(spec.resource_path)}
        if names & wanted or spec.name == resource:
            return spec
    known = ", ".join(s.resource_path[1:] for s in specs) or "none"
    raise UsageError(f"config {config} has no resource {resource!r} (resources: {known})")


@app.command()
def export(
    config: Annotated[str, typer.Argument(help="The config's name.")],
    resource: Annotated[str, typer.Argument(help="The resource: subjects, /Orders, order_lines.")],
    fmt: Annotated[
        str, typer.Option("--format", help="csv (COPY's CSV, a header line) or jsonl.")
    ] = "csv",
    where: Annotated[
        str,
        typer.Option(
            "--where",
            metavar="FILTER",
            help="The audit filter's grammar over the view's columns, e.g."
            " 'status:Enrolled study.id:42 since:7d !site.id:3'.",
        ),
    ] = "",
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="FILE", help="Where to write ('-': stdout); default <data dir>/exports."
        ),
    ] = None,
    deleted: Annotated[
        bool, typer.Option("--deleted", help="Include soft-deleted rows (the __all view).")
    ] = False,
    history: Annotated[
        bool,
        typer.Option("--history", help="The replaced versions instead (the __history view)."),
    ] = False,
    schema: SchemaOpt = DEFAULT_SCHEMA,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact/--no-redact",
            help="Fingerprint the columns the resource's redaction policy reaches (`audit"
            " redact`); --no-redact exports them as landed (an operator action).",
        ),
    ] = True,
) -> None:
    """Export a resource's typed view as CSV or JSON lines, streamed (constant memory).

    A progress bar on a terminal; the path it wrote is printed on stderr. Columns under a
    redaction policy are exported as fingerprints unless --no-redact.
    """
    if fmt not in ("csv", "jsonl"):
        raise UsageError("--format is csv or jsonl")
    if deleted and history:
        raise UsageError("choose one of --deleted and --history")
    export_format: ExportFormat = "csv" if fmt == "csv" else "jsonl"
    with open_db() as database:
        with database.engine.connect() as conn:
            spec = _find(view_specs(conn, config), config, resource)
        view = spec.all_name if deleted else spec.history_name if history else spec.name
        query = export_query(database.engine, schema, view, where)
        with database.engine.begin() as conn:
            policy = silver_policy(conn, spec.config_id, spec.resource_path)
            if policy is not None and redact:
                install_key(conn, redaction_key(), operator().os_user)
                landed = landed_select(conn, spec, query.columns, view, schema)
                redacted = query.redact(policy, landed)
                err_console.print(
                    f"redacted columns: {', '.join(redacted) or 'none of this view'}"
                    f" (policy {', '.join(policy.paths)}; --no-redact exports them as landed)",
                    markup=False,
                )
            elif policy is not None:
                record_action(
                    conn,
                    operator(),
                    "export_unredacted",
                    config_id=spec.config_id,
                    detail={"view": f"{schema}.{view}", "paths": list(policy.paths)},
                )
        if to == "-":
            _write(export_lines(database.engine, query, export_format), sys.stdout, fmt == "csv")
            return
        path = Path(to) if to else _default_path(view, fmt)
        part = path.with_name(path.name + ".part")  # renamed once the export is whole
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            out = part.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        try:
            with out:
                written = _write(
                    export_lines(database.engine, query, export_format), out, fmt == "csv"
                )
        except BaseException:  # no half export under the name of a whole one
            part.unlink(missing_ok=True)
            raise
        part.replace(path)
    err_console.print(f"exported {written:,} rows of {schema}.{view} to {path}")


def _default_path(view: str, fmt: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return settings().data_dir / "exports" / f"cc-silver-{view}-{stamp}.{fmt}"


def _write(batches: Iterator[list[str]], out: TextIO, header: bool) -> int:
    """Write every batch; the rows written (a CSV's header line aside)."""
    written = -1 if header else 0
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("exporting", total=None)
        for lines in batches:
            out.writelines(lines)
            written += len(lines)
            bar.update(task, completed=max(written, 0))
    return max(written, 0)
