"""``cc_api_client_config``: how to reach one API — base URL, auth header, secret reference,
timeouts, retry policy, paging and pacing. The CLI edits it through the ORM; a run reads it
once, as a :class:`ConfigRow`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from ..errors import NotFoundError, UsageError
from .models import ApiClientConfig

__all__ = [
    "ConfigRow",
    "add_config",
    "get_config",
    "list_configs",
    "load_config",
    "update_config",
]


@dataclass(frozen=True)
class ConfigRow:
    """A config as a run uses it (never the key: ``secret_ref`` is a reference)."""

    id: uuid.UUID
    name: str
    base_url: str
    auth_header: str
    auth_scheme: str | None
    secret_ref: str
    connect_timeout_s: float
    read_timeout_s: float
    total_timeout_s: float
    max_retries: int
    backoff_base_s: float
    backoff_max_s: float
    backoff_jitter: str
    retry_after_cap_s: float
    retry_http_500: bool
    default_page_size: int
    max_requests_per_second: float | None
    masked_headers: tuple[str, ...]
    is_active: bool
    dual_write_legacy: bool
    legacy_url: str | None
    dialect: str
    ca_bundle: str | None
    parse_retries: int
    server_timezone: str
    coordinate_rate_limits: bool

    @classmethod
    def of(cls, row: Any) -> ConfigRow:
        """From an ORM row or a result row with every column."""
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["masked_headers"] = tuple(values["masked_headers"] or ())
        return cls(**values)


_COLUMNS = ", ".join(f.name for f in fields(ConfigRow))


async def load_config(conn: AsyncConnection, config_id: uuid.UUID) -> ConfigRow:
    """The config a template belongs to (it exists: the foreign key says so)."""
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM cc_api_client_config WHERE id = :id"), {"id": config_id}
        )
    ).one()
    return ConfigRow.of(row)


EDITABLE_FIELDS = (
    "base_url",
    "auth_header",
    "auth_scheme",
    "secret_ref",
    "connect_timeout_s",
    "read_timeout_s",
    "total_timeout_s",
    "max_retries",
    "backoff_base_s",
    "backoff_max_s",
    "backoff_jitter",
    "retry_after_cap_s",
    "retry_http_500",
    "default_page_size",
    "max_requests_per_second",
    "masked_headers",
    "is_active",
    "dual_write_legacy",
    "legacy_url",
    "dialect",
    "ca_bundle",
    "parse_retries",
    "server_timezone",
    "coordinate_rate_limits",
)


def get_config(session: Session, name: str) -> ApiClientConfig:
    """The config called ``name``; NotFoundError lists what exists."""
    row = session.scalar(select(ApiClientConfig).where(ApiClientConfig.name == name))
    if row is None:
        names = session.scalars(select(ApiClientConfig.name).order_by(ApiClientConfig.name))
        known = ", ".join(names) or "none yet; add one with `cc-console config add`"
        raise NotFoundError(f"no config named {name!r} (known: {known})")
    return row


def list_configs(session: Session, *, active_only: bool = False) -> list[ApiClientConfig]:
    """All configs by name."""
    query = select(ApiClientConfig).order_by(ApiClientConfig.name)
    if active_only:
        query = query.where(ApiClientConfig.is_active)
    return list(session.scalars(query))


def add_config(session: Session, values: Mapping[str, Any], user: str) -> ApiClientConfig:
    """Insert a validated config; a duplicate name is a UsageError."""
    row = ApiClientConfig(**values, created_by=user, updated_by=user)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        if "uq_cc_api_client_config_name" in str(exc.orig):
            raise UsageError(
                f"a config named {values['name']!r} already exists; "
                "use `cc-console config edit` to change it"
            ) from None
        raise UsageError(f"the database refused the config: {_constraint(exc)}") from None
    session.refresh(row)
    return row


def update_config(
    session: Session, row: ApiClientConfig, changes: Mapping[str, Any], user: str
) -> ApiClientConfig:
    """Apply validated ``changes`` and stamp the audit fields."""
    for field, value in changes.items():
        if field not in EDITABLE_FIELDS:
            raise UsageError(f"config field {field!r} cannot be edited")
        setattr(row, field, value)
    row.updated_by = user
    row.updated_at = func.now()
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise UsageError(f"the database refused the change: {_constraint(exc)}") from None
    session.refresh(row)
    return row


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return f"constraint {name}" if name else str(exc.orig).splitlines()[0]
