"""Steering runs from the CLI or the console: find a run, continue it, ask it to stop.

Cancellation is a flag on the run row, so a console can stop an engine in any process; the
engine reads it with each page it lands and between attempts.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import NotFoundError, UsageError

__all__ = ["active_templates", "continue_job", "request_cancel", "resolve_run"]


async def resolve_run(engine: AsyncEngine, ref: str) -> dict[str, Any]:
    """The run whose id is ``ref`` or starts with it; a clear error otherwise."""
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    text(
                        "SELECT id, template_id, status, resource_path FROM cc_sync_run"
                        " WHERE CAST(id AS text) LIKE :p LIMIT 2"
                    ),
                    {"p": f"{ref.lower()}%"},
                )
            )
            .mappings()
            .all()
        )
    if not rows:
        raise NotFoundError(f"no run matches {ref!r}; see `cc-console runs`")
    if len(rows) > 1:
        raise UsageError(f"{ref!r} matches several runs; give more of the id")
    return dict(rows[0])


def continue_job(run: dict[str, Any], trigger: str, created_by: str) -> dict[str, Any]:
    """Keyword arguments of ``run_template`` that resume or retry ``run``."""
    if trigger not in ("resume", "retry"):
        raise ValueError(trigger)
    if run["status"] == "running":
        raise UsageError("that run is still running; cancel it first")
    if run["template_id"] is None:
        raise UsageError("that run has no template to continue")
    return {
        "template_id": run["template_id"],
        "trigger": trigger,
        "parent_run_id": run["id"],
        "created_by": created_by,
    }


async def request_cancel(engine: AsyncEngine, run_id: uuid.UUID) -> bool:
    """Flag a running run to stop between attempts; False when it is not running."""
    async with engine.begin() as conn:
        flagged = (
            await conn.execute(
                text(
                    "UPDATE cc_sync_run SET cancel_requested_at = now()"
                    " WHERE id = :id AND status = 'running' RETURNING id"
                ),
                {"id": run_id},
            )
        ).first()
    return flagged is not None


async def active_templates(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Templates that may be synced now (active, of an active config), by config and name."""
    async with engine.connect() as conn:
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
        return [dict(r) for r in rows.mappings()]
