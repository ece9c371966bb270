"""``cc-console discover``: what an OData v4 service holds — its entity sets, keys and types."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.metadata import fetch_counts, fetch_entity_sets, fetch_page_counts
from ..odata import canonical_params
from ..odata.csdl import EntitySet
from ..odata.resources import RESOURCE_SCHEMAS, STUDY_SCOPED
from ..settings import current_user
from ..store.configs import ConfigRow, get_config
from ..store.database import Database
from ..store.templates import add_template
from .common import console, emit_json, open_db, session_scope, settings

__all__ = ["discover"]


async def _read(
    database: Database, config: ConfigRow, count: bool
) -> tuple[dict[str, EntitySet], dict[str, int | None]]:
    engine: AsyncEngine = database.async_engine()
    try:
        if config.dialect == "clinical-conductor":
            sets = builtin_sets()
            counts = await fetch_page_counts(engine, config, list(sets)) if count else {}
        else:
            sets = await fetch_entity_sets(engine, config)
            counts = await fetch_counts(engine, config, list(sets)) if count else {}
        return sets, counts
    finally:
        await engine.dispose()


def builtin_sets() -> dict[str, EntitySet]:
    """The Clinical Conductor resources with built-in schemas, as entity sets."""
    return {
        name: EntitySet(
            name=name,
            entity_type=schema.model.__name__,
            key=(schema.key,),
            properties={field: "" for field in sorted(schema.fields)},
        )
        for name, schema in RESOURCE_SCHEMAS.items()
    }


def discover(
    config: Annotated[str, typer.Argument(help="Name of an OData v4 config.")],
    add_templates: Annotated[
        bool, typer.Option("--add-templates", help="Add a template for every entity set.")
    ] = False,
    count: Annotated[
        bool, typer.Option("--count/--no-count", help="Ask each set's $count (one request each).")
    ] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List what a config's API holds: an OData v4 service's entity sets from its $metadata
    (key, properties and Edm types, $count), or a Clinical Conductor tenant's resources with
    their built-in schemas (and which a study scopes: template add --study).

    Every request is logged like a sync's. With --add-templates each set gets a template
    (the key and types stored with it); one that exists already is left as it is.
    """
    user = current_user(settings())
    with open_db() as database:
        with session_scope(database) as session:
            config_row = ConfigRow.of(get_config(session, config))
        sets, counts = asyncio.run(_read(database, config_row, count))
        added: dict[str, dict[str, Any]] = {}
        if add_templates:
            with session_scope(database) as session:
                orm_config = get_config(session, config)
                builtin = config_row.dialect == "clinical-conductor"
                for name, entity_set in sets.items():
                    row, created = add_template(
                        session,
                        orm_config,
                        resource_path=f"/{name}/odata" if builtin else f"/{name}",
                        params=canonical_params({}),
                        name=f"{config}-{name}",
                        schedule_interval_s=None,
                        sla_target_s=None,
                        user=user,
                        record_key=None if builtin else list(entity_set.key),
                        record_schema=None if builtin else entity_set.schema(),
                    )
                    added[name] = {"template": str(row.id), "created": created}
    listing: list[dict[str, Any]] = [
        {
            "name": name,
            "entity_type": s.entity_type,
            "key": list(s.key),
            "properties": s.properties,
            "count": counts.get(name),
            "study_scoped": name in STUDY_SCOPED,
            **({"template": added[name]} if name in added else {}),
        }
        for name, s in sets.items()
    ]
    if json_output:
        emit_json(listing)
        return
    builtin = config_row.dialect == "clinical-conductor"
    columns = ["entity set", "key", "properties", "count"] + (["by study"] if builtin else [])
    table = Table(*columns, "template", box=None)
    for entry in listing:
        properties = ", ".join(
            f"{n}:{t.removeprefix('Edm.')}" if t else n for n, t in entry["properties"].items()
        )
        template = entry.get("template")
        table.add_row(
            entry["name"],
            ",".join(entry["key"]),
            properties,
            "?" if entry["count"] is None else f"{entry['count']:,}",
            *(["yes" if entry["study_scoped"] else "-"] if builtin else []),
            "-"
            if template is None
            else ("added " if template["created"] else "exists ") + template["template"][:8],
        )
    console.print(table)
