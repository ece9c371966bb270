"""``cc_rate_limit_state``: what the server said about its limits, per config and scope.

Every engine of a config reads and updates these rows under row locks before and after each
attempt (``client/ratelimit.py`` decides and waits; the SQL is here): a scope is ``global``
or ``endpoint:<path>``; ``next_request_at`` is the shared pacing slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .rate_estimate import RateEstimate
from .rows import fetch_dicts

__all__ = [
    "ScopeState",
    "Verdict",
    "ensure_scopes",
    "learned_rates",
    "paced_rate",
    "record_response",
    "scopes_view",
    "take_slot",
]

_STATE_COLUMNS = (
    'scope, "limit", window_s, ceiling_rps, slow_start_rps, confirmations, sent, throttled,'
    " curve_started_at"
)
_ENSURE = text(
    "INSERT INTO cc_rate_limit_state (config_id, scope) VALUES (:config, :scope)"
    " ON CONFLICT (config_id, scope) DO NOTHING"
)
_READ = text(
    f"SELECT {_STATE_COLUMNS}, clock_timestamp() AS now FROM cc_rate_limit_state"
    " WHERE config_id = :config AND scope = ANY(:scopes)"
)
# A scope that has learned nothing counts its attempts in windows of this many seconds, so
# that its first 429 knows what got through just before it.
UNLEARNED_WINDOW_S = 2.0
# an unlearned scope's counting window is over: it starts again at this attempt
_RESTART = (
    "(t.ceiling_rps IS NULL AND t.slow_start_rps IS NULL AND (t.curve_started_at IS NULL"
    f" OR t.curve_started_at < s.at - make_interval(secs => {UNLEARNED_WINDOW_S})))"
)
# One statement: lock the scopes, decide, and (when nothing blocks) take the pacing slot: the
# latest of every scope's next slot; each scope's next slot is then its own interval later.
_ACQUIRE = text(
    f"""
    WITH asked AS (
        SELECT * FROM unnest(CAST(:scopes AS text[]), CAST(:intervals AS float8[]))
            AS a(scope, interval_s)
    ), locked AS (
        SELECT scope, remaining, reset_at, retry_after_until, next_request_at
        FROM cc_rate_limit_state WHERE config_id = :config AND scope = ANY(:scopes)
        ORDER BY scope FOR UPDATE
    ), verdict AS (
        SELECT clock_timestamp() AS now,
            max(GREATEST(
                CASE WHEN retry_after_until > clock_timestamp() THEN retry_after_until END,
                CASE WHEN remaining <= 0 AND reset_at > clock_timestamp() THEN reset_at END
            )) AS blocked_until,
            max(next_request_at) AS next_slot
        FROM locked
    ), slot AS (
        SELECT v.now, v.blocked_until, GREATEST(COALESCE(v.next_slot, v.now), v.now) AS at
        FROM verdict v
    ), reserve AS (
        UPDATE cc_rate_limit_state t SET
            remaining = CASE WHEN t.remaining > 0 AND (t.reset_at IS NULL OR t.reset_at > s.now)
                        THEN t.remaining - 1 ELSE t.remaining END,
            next_request_at = s.at + make_interval(secs => a.interval_s),
            sent = CASE WHEN {_RESTART} THEN 1 ELSE t.sent + 1 END,
            throttled = CASE WHEN {_RESTART} THEN 0 ELSE t.throttled END,
            curve_started_at = CASE WHEN {_RESTART} THEN s.at ELSE t.curve_started_at END,
            updated_at = s.now
        FROM slot s, asked a
        WHERE t.config_id = :config AND t.scope = a.scope AND s.blocked_until IS NULL
        RETURNING {", ".join("t." + c.strip() for c in _STATE_COLUMNS.split(","))}
    )
    SELECT s.now, s.blocked_until, s.at AS slot,
        (SELECT json_agg(r) FROM reserve r) AS states
    FROM slot s
    """
)


@dataclass(frozen=True)
class ScopeState:
    """A scope's learned rate and the rate the server states, read at ``read_at``."""

    scope: str
    estimate: RateEstimate
    curve_started_at: datetime | None
    stated_rps: float | None
    read_at: datetime

    def since_s(self, now: datetime) -> float:
        """Seconds from the curve's origin (the last decrease) to ``now``."""
        return (now - self.curve_started_at).total_seconds() if self.curve_started_at else 0.0

    def learned_at(self, now: datetime) -> float | None:
        """The learned rate at ``now`` (None: nothing learned)."""
        return self.estimate.rate_at(self.since_s(now))

    def rate_at(self, now: datetime) -> float | None:
        """The rate to pace at ``now``: the learned one, under the stated one."""
        rates = [r for r in (self.learned_at(now), self.stated_rps) if r]
        return min(rates) if rates else None


@dataclass(frozen=True)
class Verdict:
    """The database clock, whether a scope blocks until some time, our pacing slot, and the
    scopes' state after taking it (empty when blocked)."""

    now: datetime
    blocked_until: datetime | None
    slot: datetime
    states: dict[str, ScopeState] = field(default_factory=dict)


def _state(row: Mapping[Any, Any], read_at: datetime) -> ScopeState:
    limit, window = row["limit"], row["window_s"]
    started = row["curve_started_at"]
    if isinstance(started, str):  # from json_agg
        started = datetime.fromisoformat(started)
    return ScopeState(
        scope=row["scope"],
        estimate=RateEstimate(
            row["ceiling_rps"],
            row["slow_start_rps"],
            row["confirmations"],
            row["sent"],
            row["throttled"],
        ),
        curve_started_at=started,
        stated_rps=limit / window if limit and window else None,
        read_at=read_at,
    )


async def ensure_scopes(
    engine: AsyncEngine, config_id: uuid.UUID, scopes: list[str]
) -> dict[str, ScopeState]:
    """Create the rows of ``scopes`` that do not exist yet; return all of their states."""
    async with engine.begin() as conn:
        for scope in scopes:
            await conn.execute(_ENSURE, {"config": config_id, "scope": scope})
        rows = (await conn.execute(_READ, {"config": config_id, "scopes": scopes})).mappings()
        return {row["scope"]: _state(row, row["now"]) for row in rows}


async def take_slot(
    engine: AsyncEngine, config_id: uuid.UUID, scopes: list[str], intervals_s: list[float]
) -> Verdict:
    """Lock ``scopes``; unless one blocks, take one from ``remaining`` and the pacing slot,
    pushing each scope's next slot ``intervals_s`` (aligned with ``scopes``) later."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                _ACQUIRE,
                {"config": config_id, "scopes": scopes, "intervals": intervals_s},
            )
        ).one()
    states = {r["scope"]: _state(r, row.now) for r in row.states or ()}
    return Verdict(row.now, row.blocked_until, row.slot, states)


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
_LOCK = text(
    f"SELECT {_STATE_COLUMNS}, clock_timestamp() AS now FROM cc_rate_limit_state"
    " WHERE config_id = :config AND scope = :scope FOR UPDATE"
)
_LEARN = text(
    "UPDATE cc_rate_limit_state SET ceiling_rps = :ceiling, slow_start_rps = :slow_start,"
    " confirmations = :confirmations, sent = :sent, throttled = :throttled,"
    " curve_started_at = :started WHERE config_id = :config AND scope = :scope"
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
    sent_at: datetime | None = None,
) -> ScopeState | None:
    """Store what a response said; ``retry_after_s`` opens a window for every engine. A 429
    is also a loss for the scope's learned rate (``sent_at``: when its request left, by the
    database's clock); its new state is returned."""
    params = {
        "limit": limit,
        "window": window_s,
        "burst": burst,
        "remaining": remaining,
        "reset": reset_at,
        "retry": retry_after_s,
        "status": status,
        "config": config_id,
        "scope": scope,
    }
    async with engine.begin() as conn:
        if status != 429:
            await conn.execute(_RECORD, params)
            return None
        row = (await conn.execute(_LOCK, {"config": config_id, "scope": scope})).mappings().one()
        before = _state(row, row["now"])
        started = before.curve_started_at
        since = before.since_s(row["now"])
        same_event = (
            before.estimate.learned
            and sent_at is not None
            and started is not None
            and sent_at < started
        )
        learned = before.estimate.after_429(since, same_event=same_event)
        if not same_event:
            started = row["now"]
        await conn.execute(
            _LEARN,
            {
                "ceiling": learned.ceiling_rps,
                "slow_start": learned.slow_start_rps,
                "confirmations": learned.confirmations,
                "sent": learned.sent,
                "throttled": learned.throttled,
                "started": started,
                "config": config_id,
                "scope": scope,
            },
        )
        await conn.execute(_RECORD, params)
        return ScopeState(scope, learned, started, before.stated_rps, row["now"])


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_SCOPES_VIEW = text(
    """
    SELECT s.id, c.name AS config, s.config_id, s.scope, s."limit", s.window_s, s.burst,
           s.remaining, s.reset_at,
           s.retry_after_until, s.last_429_at, s.next_request_at, s.updated_at,
           s.ceiling_rps, s.slow_start_rps, s.confirmations, s.sent, s.throttled,
           s.curve_started_at, clock_timestamp() AS now
    FROM cc_rate_limit_state s JOIN cc_api_client_config c ON c.id = s.config_id
    ORDER BY c.name, s.scope
    """
)


def _learned(scope: dict[str, Any]) -> float | None:
    return _state(scope, scope["now"]).learned_at(scope["now"])


def learned_rates(conn: Connection, config_id: uuid.UUID | None) -> list[dict[str, Any]]:
    """The scopes (of one config, or all) that have learned a rate: config, scope,
    ``learned_rps``, ``ceiling_rps``, ``confirmations``, ``probing`` (still in slow start)."""
    rows = [dict(r) for r in conn.execute(_SCOPES_VIEW).mappings()]
    return [
        {
            "config": r["config"],
            "scope": r["scope"],
            "learned_rps": round(rate, 3),
            "ceiling_rps": None if r["ceiling_rps"] is None else round(r["ceiling_rps"], 3),
            "confirmations": r["confirmations"],
            "probing": r["slow_start_rps"] is not None,
        }
        for r in rows
        if (config_id is None or str(r["config_id"]) == str(config_id)) and (rate := _learned(r))
    ]


async def paced_rate(
    conn: AsyncConnection, config_id: uuid.UUID, endpoint_path: str
) -> float | None:
    """The rate learned for requests to ``endpoint_path`` now: the slower of the config's and
    the endpoint's (None: neither has learned one)."""
    rows = await conn.execute(
        _READ, {"config": config_id, "scopes": ["global", f"endpoint:{endpoint_path}"]}
    )
    rates = [r for row in rows.mappings() if (r := _learned(dict(row)))]
    return round(min(rates), 3) if rates else None


async def scopes_view(conn: AsyncConnection, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every scope with its config's name, by config and scope; ``learned_rps`` is the rate
    it paces at ``now`` (default: the database's clock; None: nothing learned)."""
    scopes = await fetch_dicts(conn, _SCOPES_VIEW)
    for scope in scopes:
        if now is not None:
            scope["now"] = now
        scope["learned_rps"] = _learned(scope)
    return scopes
