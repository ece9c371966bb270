"""``cc_odata_query_template``: a named query against one resource — canonical params, their
hashes, schedule and SLA. The CLI edits it through the ORM; a run reads it as a
:class:`TemplateRow`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import String, cast, exists, false, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from ..errors import NotFoundError, UsageError
from ..odata import filter_hash, params_hash
from .models import (
    ApiClientConfig,
    ApiRequestLog,
    OdataQueryTemplate,
    PaginationState,
    SyncRun,
)

__all__ = [
    "ActiveTemplate",
    "TemplateRow",
    "active_template_ids",
    "active_templates",
    "add_template",
    "find_template",
    "list_templates",
    "load_template",
    "remove_template",
    "template_cursor",
]


@dataclass(frozen=True)
class TemplateRow:
    """A template as a run uses it."""

    id: uuid.UUID
    config_id: uuid.UUID
    name: str | None
    resource_path: str
    params: dict[str, Any]
    params_hash: str
    filter_hash: str
    schedule_interval_s: int | None
    sla_target_s: int | None
    is_active: bool
    record_key: list[str] | None  # None: the config dialect's built-in schema gives it
    record_schema: dict[str, Any] | None  # property -> Edm type, from $metadata
    paging: str  # auto, skip or server
    incremental: dict[str, Any] | None  # the replication key (odata.keyset.Replication)

    @property
    def label(self) -> str:
        """The name, or the resource path of an unnamed template."""
        return self.name or self.resource_path


_COLUMNS = ", ".join(f.name for f in fields(TemplateRow))


async def load_template(conn: AsyncConnection, template_id: uuid.UUID) -> TemplateRow | None:
    """The template with this id, or None."""
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM cc_odata_query_template WHERE id = :id"),
            {"id": template_id},
        )
    ).one_or_none()
    return None if row is None else TemplateRow(**row._mapping)


@dataclass(frozen=True)
class ActiveTemplate:
    """A template that may be synced now, for a picker: its config's name and whether a run
    of it is going."""

    id: uuid.UUID
    name: str
    resource_path: str
    params: dict[str, Any]
    config: str
    running: bool


async def active_templates(conn: AsyncConnection) -> list[ActiveTemplate]:
    """Active templates of active configs, by config and name."""
    rows = await conn.execute(
        text(
            "SELECT t.id, COALESCE(t.name, t.resource_path) AS name, t.resource_path,"
            " t.params, c.name AS config,"
            " EXISTS (SELECT 1 FROM cc_sync_run r WHERE r.template_id = t.id"
            "   AND r.status = 'running') AS running"
            " FROM cc_odata_query_template t JOIN cc_api_client_config c ON c.id = t.config_id"
            " WHERE t.is_active AND c.is_active ORDER BY c.name, name"
        )
    )
    return [ActiveTemplate(**row._mapping) for row in rows]


def active_template_ids(session: Session) -> list[uuid.UUID]:
    """Ids of active templates of active configs, oldest first."""
    query = (
        select(OdataQueryTemplate.id)
        .join(ApiClientConfig, ApiClientConfig.id == OdataQueryTemplate.config_id)
        .where(OdataQueryTemplate.is_active, ApiClientConfig.is_active)
        .order_by(OdataQueryTemplate.created_at)
    )
    return list(session.scalars(query))


def add_template(
    session: Session,
    config: ApiClientConfig,
    *,
    resource_path: str,
    params: dict[str, Any],
    name: str | None,
    schedule_interval_s: int | None,
    sla_target_s: int | None,
    user: str,
    record_key: list[str] | None = None,
    record_schema: dict[str, Any] | None = None,
    paging: str = "auto",
    incremental: dict[str, Any] | None = None,
    keep_history: bool = False,
    refresh_views: bool = False,
) -> tuple[OdataQueryTemplate, bool]:
    """Insert a template, or return the identical one already there (created=False; asked to
    keep history or refresh views, it does from now on).

    ``params`` are canonical (``odata.canonical_params``); both hashes are derived from them
    here, so every caller keys templates and cursors the same way.
    """
    hashed = params_hash(params)
    existing = session.scalar(
        select(OdataQueryTemplate).where(
            OdataQueryTemplate.config_id == config.id,
            OdataQueryTemplate.resource_path == resource_path,
            OdataQueryTemplate.params_hash == hashed,
        )
    )
    if existing is not None:
        differs = []
        if record_key is not None and existing.record_key != record_key:
            differs.append("record key")
        if existing.paging != paging:
            differs.append("paging mode")
        if existing.incremental != incremental:
            differs.append("replication key")
        if differs:
            raise UsageError(
                f"template {existing.id} has this query already, with another"
                f" {' and '.join(differs)}; remove it first (`cc-console template remove`)"
            )
        if (keep_history and not existing.keep_history) or (
            refresh_views and not existing.refresh_views
        ):
            existing.keep_history = existing.keep_history or keep_history
            existing.refresh_views = existing.refresh_views or refresh_views
            existing.updated_by = user
            session.flush()
        return existing, False
    row = OdataQueryTemplate(
        config_id=config.id,
        resource_path=resource_path,
        params=params,
        params_hash=hashed,
        filter_hash=filter_hash(params),
        name=name,
        schedule_interval_s=schedule_interval_s,
        sla_target_s=sla_target_s,
        record_key=record_key,
        record_schema=record_schema,
        paging=paging,
        incremental=incremental,
        keep_history=keep_history,
        refresh_views=refresh_views,
        created_by=user,
        updated_by=user,
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    return row, True


def list_templates(
    session: Session, config: ApiClientConfig | None = None
) -> list[OdataQueryTemplate]:
    """Templates, optionally of one config, by resource then creation."""
    query = select(OdataQueryTemplate).order_by(
        OdataQueryTemplate.resource_path, OdataQueryTemplate.created_at
    )
    if config is not None:
        query = query.where(OdataQueryTemplate.config_id == config.id)
    return list(session.scalars(query))


def find_template(session: Session, ref: str) -> OdataQueryTemplate:
    """A template by full id, unique id prefix (4+ hex digits) or unique name."""
    ref = ref.strip()
    try:
        row = session.get(OdataQueryTemplate, uuid.UUID(ref))
    except ValueError:
        row = None
    if row is not None:
        return row
    candidates = list(
        session.scalars(
            select(OdataQueryTemplate).where(
                or_(
                    OdataQueryTemplate.name == ref,
                    cast(OdataQueryTemplate.id, String).startswith(ref.lower())
                    if len(ref) >= 4
                    else false(),
                )
            )
        )
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFoundError(f"no template matches {ref!r}; see `cc-console template list`")
    raise UsageError(f"{ref!r} matches {len(candidates)} templates; give more of the id")


def template_cursor(session: Session, row: OdataQueryTemplate) -> PaginationState | None:
    """The cursor the template's runs move (its config, resource and filter), if any."""
    return session.scalar(
        select(PaginationState).where(
            PaginationState.config_id == row.config_id,
            PaginationState.resource_path == row.resource_path,
            PaginationState.filter_hash == row.filter_hash,
        )
    )


def remove_template(session: Session, row: OdataQueryTemplate) -> bool:
    """Delete an unused template (True) or deactivate one that history points at (False)."""
    referenced = session.scalar(
        select(
            or_(
                exists().where(SyncRun.template_id == row.id),
                exists().where(PaginationState.template_id == row.id),
                exists().where(ApiRequestLog.template_id == row.id),
            )
        )
    )
    if referenced:
        row.is_active = False
        session.flush()
        return False
    session.delete(row)
    session.flush()
    return True
