"""The operator action log's home: record what an operator asked for, read it back.

Every action is one row, written in the transaction of what it records where there is one
(a config or template change), or just before (a sync, resume or retry: the run it starts
points at it) or just after (a job queued, a cancel flagged) — never twice. Who: the
database role (PostgreSQL's ``current_user``, the column's default) and the OS user (the
same name ``created_by``/``updated_by`` take), the host and the way in (cli or console).
"""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "ACTIONS",
    "OPERATOR_ACTION",
    "Operator",
    "action_detail",
    "list_actions",
    "record_action",
    "record_action_async",
    "run_actions",
]

ACTIONS = (
    "config_add",
    "config_edit",
    "config_activate",
    "config_deactivate",
    "template_add",
    "template_remove",
    "sync",
    "resume",
    "retry",
    "cancel",
    "maintain",
    "restore",
    "redact_set",
    "redact_clear",
    "grant_auditor",
    "export_unredacted",
    "scrub",
)
# the action a run's trigger records, when an operator starts it
OPERATOR_ACTION = {"manual": "sync", "console": "sync", "resume": "resume", "retry": "retry"}


@dataclass(frozen=True)
class Operator:
    """Who is asking: the OS user (``CC_USER`` or the login), this host, cli or console."""

    os_user: str
    source: str
    host: str = socket.gethostname()


_INSERT = text(
    "INSERT INTO cc_operator_action (id, os_user, host, source, action, config_id, template_id,"
    " run_id, job_id, detail) VALUES (:id, :user, :host, :source, :action, :config, :template,"
    " :run, :job, CAST(:detail AS jsonb)) RETURNING id"
)


def record_action(
    conn: Connection,
    operator: Operator,
    action: str,
    *,
    config_id: uuid.UUID | None = None,
    template_id: uuid.UUID | None = None,
    run_id: uuid.UUID | None = None,
    job_id: int | None = None,
    detail: dict[str, Any] | None = None,
    action_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert one action row (in ``conn``'s transaction); its id (``action_id`` when given:
    what the action changed may name it before the row is written)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown operator action {action!r}")
    inserted: uuid.UUID = conn.execute(
        _INSERT,
        {
            "id": action_id or uuid.uuid4(),
            "user": operator.os_user,
            "host": operator.host,
            "source": operator.source,
            "action": action,
            "config": config_id,
            "template": template_id,
            "run": run_id,
            "job": job_id,
            "detail": json.dumps(detail or {}, default=str),
        },
    ).scalar_one()
    return inserted


async def record_action_async(
    engine: AsyncEngine, operator: Operator, action: str, **ids: Any
) -> uuid.UUID:
    """:func:`record_action` in a transaction of its own."""
    async with engine.begin() as conn:
        return await conn.run_sync(lambda sync: record_action(sync, operator, action, **ids))


_COLUMNS = """
    SELECT a.id, a.at, a.db_role, a.os_user, a.host, a.source, a.action,
           COALESCE(a.config_id, t.config_id) AS config_id,
           c.name AS config, a.template_id, t.name AS template, a.run_id, a.job_id, a.detail
    FROM cc_operator_action a
    LEFT JOIN cc_odata_query_template t ON t.id = a.template_id
    LEFT JOIN cc_api_client_config c ON c.id = COALESCE(a.config_id, t.config_id)
"""


def list_actions(
    conn: Connection,
    *,
    limit: int = 100,
    since: datetime | None = None,
    run_id: uuid.UUID | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """Actions newest first, optionally since a time, about one run or of one kind."""
    sql = _COLUMNS + (
        " WHERE (CAST(:since AS timestamptz) IS NULL OR a.at >= :since)"
        " AND (CAST(:run AS uuid) IS NULL OR a.run_id = :run"
        "      OR a.id = (SELECT action_id FROM cc_sync_run WHERE id = :run))"
        " AND (CAST(:action AS text) IS NULL OR a.action = :action)"
        " ORDER BY a.at DESC, a.id DESC LIMIT :limit"
    )
    rows = conn.execute(
        text(sql), {"since": since, "run": run_id, "action": action, "limit": limit}
    )
    return [dict(r._mapping) for r in rows]


def run_actions(
    conn: Connection, run_id: uuid.UUID, action_id: uuid.UUID | None, job_id: int | None
) -> list[dict[str, Any]]:
    """The actions about one run, oldest first: the one that started it (here, or by queueing
    its job) and those that acted on it (cancel, resume or retry of it)."""
    sql = _COLUMNS + (
        " WHERE a.run_id = :run OR a.id = :action"
        " OR (CAST(:job AS bigint) IS NOT NULL AND a.job_id = :job)"
        " ORDER BY a.at, a.id"
    )
    rows = conn.execute(text(sql), {"run": run_id, "action": action_id, "job": job_id})
    return [dict(r._mapping) for r in rows]


def action_detail(row: dict[str, Any]) -> str:
    """An action's detail (and its job) as ``key=value`` words, empty values left out."""
    detail = dict(row["detail"] or {})
    if row["job_id"] is not None:
        detail["job"] = row["job_id"]
    return " ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))
