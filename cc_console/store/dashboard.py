"""What the console's dashboard shows, read in one short transaction from each table's home.

Every list is capped (newest first) and carries an honest total: exact for runs and cursors,
counted up to a cap for the partitioned request log and the error events, so a refresh costs
the same at a thousand rows as at millions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..redaction import Redactor
from .audit_log import count_requests_since, recent_requests_view, requests_per_endpoint
from .cursors import count_cursors, cursors_view
from .error_events import count_errors, recent_errors_view, throttles_per_minute
from .rate_limits import scopes_view
from .redaction import load_policies_async
from .runs import recent_runs_view, run_counts

__all__ = ["Capped", "Dashboard", "RATE_WINDOW_MINUTES", "load_dashboard"]

RATE_WINDOW_MINUTES = 10
OBSERVED_WINDOW_S = 60.0
COUNT_CAP = 100_000


@dataclass
class Capped:
    """The newest ``rows`` of a list and how many there are (``total`` may be a lower bound)."""

    rows: list[dict[str, Any]]
    total: int
    exact: bool = True


@dataclass
class Dashboard:
    """One consistent read of the five panes."""

    now: datetime
    runs: Capped
    requests: Capped
    scopes: list[dict[str, Any]]
    cursors: Capped
    errors: Capped
    active_runs: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _sparklines(scopes: list[dict[str, Any]], throttles: list[dict[str, Any]]) -> None:
    """Attach ``per_minute`` (oldest → newest) 429 counts to each scope."""
    by_scope: dict[tuple[Any, str], list[int]] = defaultdict(lambda: [0] * RATE_WINDOW_MINUTES)
    for row in throttles:
        slot = RATE_WINDOW_MINUTES - 1 - min(max(row["minutes_ago"], 0), RATE_WINDOW_MINUTES - 1)
        by_scope[(row["config_id"], "global")][slot] += row["n"]
        if row["endpoint_path"]:
            by_scope[(row["config_id"], f"endpoint:{row['endpoint_path']}")][slot] += row["n"]
    for scope in scopes:
        scope["per_minute"] = list(by_scope[(scope["config_id"], scope["scope"])])


def _observed(scopes: list[dict[str, Any]], sent: list[dict[str, Any]]) -> None:
    """Attach ``observed_rps``: requests per second sent in the last minute, per scope."""
    by_scope: dict[tuple[Any, str], int] = defaultdict(int)
    for row in sent:
        by_scope[(row["config_id"], "global")] += row["n"]
        if row["endpoint_path"]:
            by_scope[(row["config_id"], f"endpoint:{row['endpoint_path']}")] += row["n"]
    for scope in scopes:
        scope["observed_rps"] = by_scope[(scope["config_id"], scope["scope"])] / OBSERVED_WINDOW_S


async def load_dashboard(
    conn: AsyncConnection,
    *,
    now: datetime,
    limit: int = 500,
    request_window_h: int = 24,
    redaction_key: bytes | None = None,
) -> Dashboard:
    """Read the five panes; ``now`` is the clock the countdowns and windows are measured by;
    with ``redaction_key`` the error messages are shown as an auditor may see them."""

    since = now - timedelta(hours=request_window_h)
    runs = await recent_runs_view(conn, limit, now)
    run_total, active = await run_counts(conn)
    requests = await recent_requests_view(conn, since, limit)
    request_total = await count_requests_since(conn, since, COUNT_CAP)
    scopes = await scopes_view(conn, now)
    _sparklines(scopes, await throttles_per_minute(conn, now, RATE_WINDOW_MINUTES))
    _observed(scopes, await requests_per_endpoint(conn, now, OBSERVED_WINDOW_S))
    cursors = await cursors_view(conn, limit)
    cursor_total = await count_cursors(conn)
    errors = await recent_errors_view(conn, limit)
    if redaction_key is not None:
        redactor = Redactor(redaction_key, await load_policies_async(conn))
        errors = [
            {
                **e,
                "message": redactor.message(e["config_id"], e["endpoint_path"] or "", e["message"]),
            }
            for e in errors
        ]
    error_total = await count_errors(conn, COUNT_CAP)
    return Dashboard(
        now=now,
        runs=Capped(runs, run_total),
        requests=Capped(requests, min(request_total, COUNT_CAP), request_total <= COUNT_CAP),
        scopes=scopes,
        cursors=Capped(cursors, cursor_total),
        errors=Capped(errors, min(error_total, COUNT_CAP), error_total <= COUNT_CAP),
        active_runs=active,
    )
