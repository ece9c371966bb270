"""Repository of OData query templates (rows of ``cc_odata_query_template``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import String, cast, exists, or_, select
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

__all__ = ["add_template", "find_template", "list_templates", "remove_template"]


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
) -> tuple[OdataQueryTemplate, bool]:
    """Insert a template, or return the identical one already there (created=False).

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
                    else False,
                )
            )
        )
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise NotFoundError(f"no template matches {ref!r}; see `cc-console template list`")
    raise UsageError(f"{ref!r} matches {len(candidates)} templates; give more of the id")


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
