"""The time window every report is bounded by, and small helpers they share."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

__all__ = ["Window", "percentile", "resolve_window"]


@dataclass(frozen=True)
class Window:
    """``[start, end)`` and, optionally, one config the report is limited to."""

    start: datetime
    end: datetime
    config_id: uuid.UUID | None = None
    config_name: str | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "config": self.config_id}

    def describe(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "config": self.config_name,
        }


def resolve_window(
    conn: Connection, *, now: datetime, since: timedelta, config: str | None = None
) -> Window:
    """The window ending ``now``; an unknown config name is a LookupError naming the known."""
    config_id = None
    if config is not None:
        config_id = conn.execute(
            text("SELECT id FROM cc_api_client_config WHERE name = :n"), {"n": config}
        ).scalar()
        if config_id is None:
            known = conn.execute(text("SELECT name FROM cc_api_client_config ORDER BY 1")).scalars()
            raise LookupError(f"no config named {config!r} (known: {', '.join(known) or 'none'})")
    return Window(now - since, now, config_id, config)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
