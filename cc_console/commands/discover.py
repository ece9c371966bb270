"""``cc-console discover``: what an OData v4 service holds — its entity sets, keys and types."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.metadata import fetch_counts, fetch_entity_sets
from ..odata import canonical_params
from ..odata.csdl import EntitySet
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
        sets = await fetch_entity_sets(engine, config)
        counts = await fetch_counts(engine, config, list(sets)) if count else {}
        return sets, counts
    finally:
        await engine.dispose()


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
    """List the service's entity sets from its $metadata: key, properties and Edm types, $count.

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
                for name, entity_set in sets.items():
                    row, created = add_template(
                        session,
                        orm_config,
                        resource_path=f"/{name}",
                        params=canonical_params({}),
                        name=f"{config}-{name}",
                        schedule_interval_s=None,
                        sla_target_s=None,
                        user=user,
                        record_key=list(entity_set.key),
                        record_schema=entity_set.schema(),
                    )
                    added[name] = {"template": str(row.id), "created": created}
    listing: list[dict[str, Any]] = [
        {
            "name": name,
            "entity_type": s.entity_type,
            "key": list(s.key),
            "properties": s.properties,
            "count": counts.get(name),
            **({"template": added[name]} if name in added else {}),
        }
        for name, s in sets.items()
    ]
    if json_output:
        emit_json(listing)
        return
    table = Table("entity set", "key", "properties", "count", "template", box=None)
    for entry in listing:
        properties = ", ".join(
            f"{n}:{t.removeprefix('Edm.')}" for n, t in entry["properties"].items()
        )
        template = entry.get("template")
        table.add_row(
            Text(entry["name"]),
            Text(",".join(entry["key"])),
            Text(properties),
            "?" if entry["count"] is None else f"{entry['count']:,}",
            "-"
            if template is None
            else ("added " if template["created"] else "exists ") + template["template"][:8],
        )
    console.print(table)
