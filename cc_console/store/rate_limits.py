"""``cc_rate_limit_state``: what the server said about its limits, per config and scope.

Every engine of a config reads and updates these rows under row locks before and after each
attempt (``client/ratelimit.py`` decides and waits; the SQL is here): a scope is ``global``
or ``endpoint:<path>``; ``next_request_at`` is the shared pacing slot.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .rows import fetch_dicts

__all__ = ["Verdict", "ensure_scopes", "record_response", "scopes_view", "take_slot"]

_ENSURE = text(
    "INSERT INTO cc_rate_limit_state (config_id, scope) VALUES (:config, :scope)"
    " ON CONFLICT (config_id, scope) DO NOTHING"
)
# One statement: lock the scopes, decide, and (when nothing blocks) take the pacing slot.
_ACQUIRE = text(
    """
    WITH locked AS (
        SELECT scope, remaining, reset_at, retry_after_until, next_request_at
        FROM cc_rate_limit_state WHERE config_id = :config AND scope = ANY(:scopes)
        ORDER BY scope FOR UPDATE
    ), verdict AS (
        SELECT clock_timestamp() AS now,
            max(GREATEST(
                CASE WHEN retry_after_until > clock_timestamp() THEN retry_after_until END,
                CASE WHEN remaining <= 0 AND reset_at > clock_timestamp() THEN reset_at END
            )) AS blocked_until,
            max(next_request_at) FILTER (WHERE scope = 'global') AS next_slot
        FROM locked
    ), reserve AS (
        UPDATE cc_rate_limit_state t SET
            remaining = CASE WHEN t.remaining > 0 AND (t.reset_at IS NULL OR t.reset_at > v.now)
                        THEN t.remaining - 1 ELSE t.remaining END,
            next_request_at = CASE WHEN t.scope = 'global'
                THEN GREATEST(COALESCE(t.next_request_at, v.now), v.now)
                     + make_interval(secs => CAST(:interval AS float8))
                ELSE t.next_request_at END,
            updated_at = v.now
        FROM verdict v
        WHERE t.config_id = :config AND t.scope = ANY(:scopes) AND v.blocked_until IS NULL
        RETURNING 1
    )
    SELECT v.now, v.blocked_until, GREATEST(COALESCE(v.next_slot, v.now), v.now) AS slot,
        (SELECT count(*) FROM reserve) AS reserved
    FROM verdict v
    """
)


@dataclass(frozen=True)
class Verdict:
    """The database clock, whether a scope blocks until some time, and our pacing slot."""

    now: datetime
    blocked_until: datetime | None
    slot: datetime


async def ensure_scopes(engine: AsyncEngine, config_id: uuid.UUID, scopes: list[str]) -> None:
    """Create the rows of ``scopes`` that do not exist yet."""
    async with engine.begin() as conn:
        for scope in scopes:
            await conn.execute(_ENSURE, {"config": config_id, "scope": scope})


async def take_slot(
    engine: AsyncEngine, config_id: uuid.UUID, scopes: list[str], interval_s: float
) -> Verdict:
    """Lock ``scopes``; unless one blocks, take one from ``remaining`` and the next pacing
    slot ``interval_s`` after the last (one statement)."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                _ACQUIRE, {"config": config_id, "scopes": scopes, "interval": interval_s}
            )
        ).one()
    return Verdict(row.now, row.blocked_until, row.slot)


_RECORD = text(
    "UPDATE cc_rate_limit_state SET"
    ' "limit" = COALESCE(CAST(:limit AS integer), "limit"),'
    " window_s = COALESCE(CAST(:window AS float8), window_s),"
    " burst = COALESCE(CAST(:burst AS integer), burst),"
    " remaining = CASE WHEN CAST(:remaining AS integer) IS NOT NULL"
    " THEN CAST(:remaining AS integer)"
    " WHEN CAST(:status AS integer) = 429 THEN 0 ELSE remaining END,"
    " reset_at = COALESCE(CAST(:reset AS timestamptz), reset_at),"
    " retry_after_until = CASE WHEN CAST(:retry AS float8) IS NOT NULL THEN"
    " GREATEST(COALESCE(retry_after_until, clock_timestamp()),"
    " clock_timestamp() + make_interval(secs => CAST(:retry AS float8)))"
    " ELSE retry_after_until END,"
    " last_429_at = CASE WHEN CAST(:status AS integer) = 429"
    " THEN clock_timestamp() ELSE last_429_at END,"
    " updated_at = clock_timestamp()"
    " WHERE config_id = :config AND scope = :scope"
)


async def record_response(
    engine: AsyncEngine,
    config_id: uuid.UUID,
    scope: str,
    *,
    status: int,
    limit: int | None,
    remaining: int | None,
    reset_at: datetime | None,
    retry_after_s: float | None,
    window_s: float | None = None,
    burst: int | None = None,
) -> None:
    """Store what a response said; ``retry_after_s`` opens a window for every engine."""
    async with engine.begin() as conn:
        await conn.execute(
            _RECORD,
            {
                "limit": limit,
                "window": window_s,
                "burst": burst,
                "remaining": remaining,
                "reset": reset_at,
                "retry": retry_after_s,
                "status": status,
                "config": config_id,
                "scope": scope,
            },
        )


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_SCOPES_VIEW = text(
    """
    SELECT s.id, c.name AS config, s.config_id, s.scope, s."limit", s.window_s, s.burst,
           s.remaining, s.reset_at,
           s.retry_after_until, s.last_429_at, s.next_request_at, s.updated_at
    FROM cc_rate_limit_state s JOIN cc_api_client_config c ON c.id = s.config_id
    ORDER BY c.name, s.scope
    """
)


async def scopes_view(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every scope with its config's name, by config and scope."""
    return await fetch_dicts(conn, _SCOPES_VIEW)
