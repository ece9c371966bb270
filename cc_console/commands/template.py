"""``cc-console template``: add, list, show, remove OData query templates."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..errors import UsageError
from ..odata import FilterSyntaxError, canonical_params, check_filter
from ..settings import current_user
from ..store.configs import get_config, list_configs
from ..store.models import OdataQueryTemplate
from ..store.rows import row_as_dict
from ..store.templates import add_template, find_template, list_templates, remove_template
from .common import console, emit_json, open_db, parse_duration, session_scope, settings

app = typer.Typer(help="Manage OData query templates (resource path + $filter/$select/...).")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _resource_path(raw: str) -> str:
    path = "/" + raw.strip().lstrip("/")
    if "?" in path or "#" in path or "://" in raw:
        raise UsageError(
            "the resource path is a path only (e.g. /studies/odata); "
            "give query options with --filter, --select, --orderby, --expand, --top"
        )
    if len(path) < 2 or any(c.isspace() for c in path):
        raise UsageError(f"{raw!r} is not a resource path (e.g. /studies/odata)")
    return path.rstrip("/") or path


@app.command()
def add(
    config: Annotated[str, typer.Argument(help="Name of the config the template runs on.")],
    resource_path: Annotated[str, typer.Argument(help="Resource path, e.g. /studies/odata.")],
    filter_: Annotated[str | None, typer.Option("--filter", help="OData $filter.")] = None,
    select: Annotated[str | None, typer.Option(help="OData $select (comma list).")] = None,
    orderby: Annotated[str | None, typer.Option(help="OData $orderby.")] = None,
    expand: Annotated[str | None, typer.Option(help="OData $expand.")] = None,
    top: Annotated[int | None, typer.Option(min=1, max=1000, help="Page size ($top).")] = None,
    name: Annotated[str | None, typer.Option(help="Optional label.")] = None,
    every: Annotated[str | None, typer.Option(help="Schedule interval: 15m, 1h, 1d.")] = None,
    sla: Annotated[str | None, typer.Option(help="SLA target for a run: 30m, 2h.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Add a template; adding the same query twice returns the existing one."""
    path = _resource_path(resource_path)
    if filter_ is not None:
        try:
            check_filter(filter_)
        except FilterSyntaxError as exc:
            raise UsageError(f"invalid --filter: {exc}") from None
    raw = {
        "$filter": filter_,
        "$select": select,
        "$orderby": orderby,
        "$expand": expand,
        "$top": top,
    }
    params = canonical_params(raw)
    interval = parse_duration(every, "--every")
    sla_target = parse_duration(sla, "--sla")
    user = current_user(settings())
    with open_db() as database, session_scope(database) as session:
        config_row = get_config(session, config)
        row, created = add_template(
            session,
            config_row,
            resource_path=path,
            params=params,
            name=name,
            schedule_interval_s=interval,
            sla_target_s=sla_target,
            user=user,
        )
        payload = {**row_as_dict(row), "config": config, "created": created}
    if json_output:
        emit_json(payload)
    elif created:
        console.print(f"added template {payload['id']} on {config} {path}")
    else:
        console.print(f"template already exists: {payload['id']} (same config, path and params)")


@app.command("list")
def list_(
    config: Annotated[str | None, typer.Option(help="Only templates of this config.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List templates."""
    with open_db() as database, session_scope(database) as session:
        config_row = get_config(session, config) if config else None
        names = {c.id: c.name for c in list_configs(session)}
        rows = [
            {**row_as_dict(t), "config": names[t.config_id]}
            for t in list_templates(session, config_row)
        ]
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print("no templates yet: add one with `cc-console template add CONFIG PATH`")
        return
    table = Table("id", "config", "resource", "params", "every", "active", box=None)
    for row in rows:
        table.add_row(
            row["id"][:8],
            row["config"],
            Text(row["resource_path"]),
            Text(_params_text(row["params"])),
            f"{row['schedule_interval_s']}s" if row["schedule_interval_s"] else "-",
            "yes" if row["is_active"] else "no",
        )
    console.print(table)


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items()) or "(none)"


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="Id, id prefix or name.")], json_output: JsonOpt = False
) -> None:
    """Show one template with its hashes."""
    with open_db() as database, session_scope(database) as session:
        row: OdataQueryTemplate = find_template(session, ref)
        names = {c.id: c.name for c in list_configs(session)}
        payload = {**row_as_dict(row), "config": names[row.config_id]}
    if json_output:
        emit_json(payload)
        return
    for key, value in payload.items():
        console.print(f"{key:<22} {value}", markup=False)


@app.command()
def remove(
    ref: Annotated[str, typer.Argument(help="Id, id prefix or name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a template (one that runs or logs point at is deactivated instead)."""
    with open_db() as database, session_scope(database) as session:
        row = find_template(session, ref)
        label = f"{row.id} ({row.resource_path})"
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError("pass --yes to remove without a prompt")
            typer.confirm(f"Remove template {label}?", abort=True)
        deleted = remove_template(session, row)
    if deleted:
        console.print(f"removed template {label}")
    else:
        console.print(f"template {label} has history; deactivated it instead of deleting")
