"""``cc-console template``: add, list, show, remove OData query templates."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Connection

from ..client.metadata import entity_set_name, fetch_entity_sets
from ..errors import UsageError
from ..odata import FilterSyntaxError, canonical_params, check_filter
from ..odata.keys import Key, parse_key
from ..odata.keyset import Replication, next_ask, zone_of
from ..odata.replication import ReplicationRefused, replication_key
from ..odata.resources import effective_key, study_scoped_path
from ..redaction import Policy
from ..redaction_defaults import default_policy_paths
from ..safe_text import has_control_characters
from ..settings import current_user
from ..store.configs import ConfigRow, get_config, list_configs
from ..store.models import OdataQueryTemplate
from ..store.operator_actions import record_action
from ..store.redaction import install_key, set_policy_if_none
from ..store.rows import row_as_dict
from ..store.templates import (
    add_template,
    find_template,
    list_templates,
    remove_template,
    template_cursor,
)
from ..store.vocabulary import PAGING_MODES
from .common import (
    console,
    emit_json,
    err_console,
    open_db,
    operator,
    parse_duration,
    redaction_key,
    session_scope,
    settings,
    with_async_engine,
)

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
    validate: Annotated[
        bool,
        typer.Option(
            "--validate/--no-validate",
            help="Check the structure of --filter before storing it (the server judges the rest).",
        ),
    ] = True,
    every: Annotated[str | None, typer.Option(help="Schedule interval: 15m, 1h, 1d.")] = None,
    sla: Annotated[str | None, typer.Option(help="SLA target for a run: 30m, 2h.")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="The record key: PROPERTY or PROPERTY,PROPERTY (composite). Default: from"
            " $metadata (odata4 configs) or the built-in schema (clinical-conductor)."
        ),
    ] = None,
    study: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Clinical Conductor: only this study's rows (subjects, visits, elements), via"
            " /studies/ID/<resource>/odata; the cursor is the study's own.",
        ),
    ] = None,
    paging: Annotated[
        str,
        typer.Option(
            help="auto ($top; any next link the server sends wins), skip ($top + $skip only)"
            " or server (no $top: next links until there is none)."
        ),
    ] = "auto",
    incremental: Annotated[
        str | None,
        typer.Option(
            help="Sync incrementally by this replication key (e.g. lastUpdatedOn): each run"
            " reads only what changed since the last completed one, by keyset paging.",
        ),
    ] = None,
    lookback: Annotated[
        str | None,
        typer.Option(
            help="With --incremental: how far back each run re-reads for late writes (5m by"
            " default for timestamps; 0 for none)."
        ),
    ] = None,
    include_nulls: Annotated[
        bool,
        typer.Option(
            "--include-nulls",
            help="With --incremental on a nullable field: rows without a value are read in"
            " full each run.",
        ),
    ] = False,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Keep every replaced version of its resource's Silver rows (valid_from,"
            " valid_to, the run and response that replaced it; the view …__history).",
        ),
    ] = False,
    views: Annotated[
        bool,
        typer.Option(
            "--views",
            help="Refresh its resource's typed Silver views (silver views) after each"
            " successful run, so they follow drift.",
        ),
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Add a template; adding the same query twice returns the existing one.

    Every template has a record key, the total order of its pages and the identity of its
    Silver rows: given with --key, read from the service's $metadata (odata4 configs), or the
    built-in resource schema's (clinical-conductor configs). Without one it is refused.
    """
    path = _resource_path(resource_path)
    if study is not None:
        try:
            path = study_scoped_path(path, study)
        except ValueError as exc:
            raise UsageError(f"--study: {exc}") from None
    if paging not in PAGING_MODES:
        raise UsageError(f"--paging is one of {', '.join(PAGING_MODES)} (got {paging!r})")
    given_key = None
    if key is not None:
        try:
            given_key = parse_key(key)
        except ValueError as exc:
            raise UsageError(f"--key: {exc}") from None
    if name is not None and (not name.strip() or len(name) > 200 or has_control_characters(name)):
        raise UsageError("--name: 1 to 200 characters, no newlines or control characters")
    if filter_ is not None and validate:
        try:
            for warning in check_filter(filter_):
                err_console.print(f"warning: --filter: {warning}")
        except FilterSyntaxError as exc:
            raise UsageError(
                f"invalid --filter: {exc} (--no-validate stores it unchecked)"
            ) from None
    if incremental is None and (lookback is not None or include_nulls):
        raise UsageError("--lookback and --include-nulls go with --incremental FIELD")
    if incremental is not None:
        if orderby is not None:
            raise UsageError(
                f"an incremental template orders by {incremental} and its key; drop --orderby"
            )
        if paging == "skip":
            raise UsageError("an incremental template pages by keyset: use --paging auto or server")
    lookback_s = None if lookback in (None, "0") else parse_duration(lookback, "--lookback")
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
    with open_db() as database:
        with session_scope(database) as session:
            config_row = ConfigRow.of(get_config(session, config))
        if study is not None and config_row.dialect != "clinical-conductor":
            raise UsageError("--study scopes Clinical Conductor resources; use --filter here")
        record_key, record_schema = _record_key(database, config_row, path, given_key)
        replication = None
        if incremental is not None:
            try:
                replication = replication_key(
                    dialect=config_row.dialect,
                    resource_path=path,
                    schema=record_schema,
                    field=incremental,
                    lookback_s=0.0 if lookback == "0" else lookback_s,
                    include_nulls=include_nulls,
                ).as_dict()
            except ReplicationRefused as exc:
                raise UsageError(f"--incremental: {exc}") from None
            key_names = record_key or list(effective_key(None, path, config_row.dialect) or ())
            chosen = {name.strip() for name in (select or "*").split(",")}
            needed = [n for n in [incremental, *key_names] if "*" not in chosen and n not in chosen]
            if needed:
                raise UsageError(
                    f"--select must include {', '.join(needed)}: keyset paging reads the"
                    " replication key and the record key of every row"
                )
        with session_scope(database) as session:
            row, created = add_template(
                session,
                get_config(session, config),
                resource_path=path,
                params=params,
                name=name,
                schedule_interval_s=interval,
                sla_target_s=sla_target,
                user=user,
                record_key=record_key,
                record_schema=record_schema,
                paging=paging,
                incremental=replication,
                keep_history=history,
                refresh_views=views,
            )
            record_action(
                session.connection(),
                operator(),
                "template_add",
                config_id=row.config_id,
                template_id=row.id,
                detail={"created": created},
            )
            redacted = (
                _default_redaction(session.connection(), config_row, row, path, user)
                if created
                else ()
            )
            payload = {
                **row_as_dict(row),
                "config": config,
                "created": created,
                "key": list(effective_key(row.record_key, path, config_row.dialect) or ()),
                "redaction_default": list(redacted),
            }
    if json_output:
        emit_json(payload)
    elif created:
        shown = ",".join(payload["key"])
        how = ""
        if replication is not None:
            how = (
                f", incremental by {replication['field']}, lookback {replication['lookback_s']:g}s"
            )
        how += ", keeps history" if history else ""
        how += ", refreshes its views" if views else ""
        console.print(f"added template {payload['id']} on {config} {path} (key {shown}{how})")
        if redacted:
            console.print(
                f"auditors see its person data as fingerprints ({len(redacted)} paths, e.g."
                f" {', '.join(redacted[:3])}): `cc-console audit redact show` lists them,"
                f" `audit redact set/clear {config} {path}` changes them",
                markup=False,
            )
    else:
        console.print(f"template already exists: {payload['id']} (same config, path and params)")


def _default_redaction(
    conn: Connection, config: ConfigRow, template: Any, path: str, user: str
) -> tuple[str, ...]:
    """A Clinical Conductor template on person data starts redacted for auditors
    (``redaction_defaults.py``), unless the resource has a policy already; the paths set."""
    paths = default_policy_paths(config.dialect, path)
    if not paths or not set_policy_if_none(conn, template.config_id, path, Policy(paths), user):
        return ()
    install_key(conn, redaction_key(), user)  # the auditor's views fingerprint as we do
    record_action(
        conn,
        operator(),
        "redact_set",
        config_id=template.config_id,
        template_id=template.id,
        detail={"resource_path": path, "paths": list(paths), "default": True},
    )
    return paths


def _record_key(
    database: Any, config: ConfigRow, path: str, given: Key | None
) -> tuple[list[str] | None, dict[str, Any] | None]:
    """The template's own key and Edm types: given, or from $metadata; None where the
    dialect's built-in schema gives the key. Refused, naming --key, when nothing does."""
    if config.dialect == "odata4":
        sets = _with_engine(database, lambda engine: fetch_entity_sets(engine, config))
        found = sets.get(entity_set_name(path))
        if found is None:
            known = ", ".join(sorted(sets)) or "none"
            raise UsageError(
                f"$metadata of {config.name} has no entity set {entity_set_name(path)!r}"
                f" (it has: {known}); see `cc-console discover {config.name}`"
            )
        return list(given or found.key), found.schema()
    if given is not None:
        return list(given), None
    if effective_key(None, path, config.dialect) is None:
        raise UsageError(
            f"no record key known for {path}: it is no built-in resource of a {config.dialect}"
            " config; give --key PROPERTY[,PROPERTY], or set `config edit --dialect odata4` to"
            " read keys from the service's $metadata"
        )
    return None, None


def _with_engine(database: Any, work: Any) -> Any:
    return asyncio.run(with_async_engine(database, work))


@app.command("list")
def list_(
    config: Annotated[str | None, typer.Option(help="Only templates of this config.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """List templates."""
    with open_db() as database, session_scope(database) as session:
        config_row = get_config(session, config) if config else None
        configs = {c.id: c for c in list_configs(session)}
        rows = []
        for t in list_templates(session, config_row):
            key = effective_key(t.record_key, t.resource_path, configs[t.config_id].dialect)
            rows.append(
                {
                    **row_as_dict(t),
                    "config": configs[t.config_id].name,
                    "key": list(key) if key else None,
                }
            )
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print("no templates yet: add one with `cc-console template add CONFIG PATH`")
        return
    table = Table("id", "name", "config", "resource", "key", "params", "every", "active", box=None)
    for row in rows:
        table.add_row(
            row["id"][:8],
            row["name"] or "-",
            row["config"],
            row["resource_path"],
            ",".join(row["key"] or ["?"]),
            _params_text(row["params"]),
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
        configs = {c.id: c for c in list_configs(session)}
        config_row = configs[row.config_id]
        key = effective_key(row.record_key, row.resource_path, config_row.dialect)
        payload = {
            **row_as_dict(row),
            "config": config_row.name,
            "key": list(key) if key else None,  # the record key a run uses
        }
        replication = Replication.of(row.incremental)
        if replication is not None and key:
            cursor = template_cursor(session, row)
            watermark = None if cursor is None else cursor.watermark
            types = dict((row.record_schema or {}).get("properties") or {})
            payload["mode"] = "incremental" if watermark else "full (no watermark yet)"
            payload["watermark"] = watermark
            zone = zone_of(config_row.server_timezone)
            payload["next_sync_asks"] = next_ask(replication, key, types, watermark, zone)
    if json_output:
        emit_json(payload)
        return
    for field, value in payload.items():
        console.print(f"{field:<22} {value}", markup=False)


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
        config_id, template_id = row.config_id, row.id
        deleted = remove_template(session, row)
        record_action(
            session.connection(),
            operator(),
            "template_remove",
            config_id=config_id,
            template_id=template_id,
            detail={"deleted": deleted, "template": label},
        )
    if deleted:
        console.print(f"removed template {label}")
    else:
        console.print(f"template {label} has history; deactivated it instead of deleting")
