"""Messages workers post; handlers on the app and screens own all state and every widget."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from textual.message import Message

from ..store.dashboard import Dashboard

__all__ = [
    "ActionsLoaded",
    "AuditPage",
    "AuditProblem",
    "DashboardLoaded",
    "DataChanged",
    "LinkState",
    "ReportsLoaded",
    "RequestLoaded",
    "RunLoaded",
    "WorkersLoaded",
]


class DashboardLoaded(Message):
    """A fresh read of the five panes."""

    def __init__(self, dashboard: Dashboard) -> None:
        super().__init__()
        self.dashboard = dashboard


class DataChanged(Message):
    """The engine committed something; screens showing details re-read them."""


class LinkState(Message):
    """The database link went down (stale) or came back."""

    def __init__(self, stale: bool, reason: str = "") -> None:
        super().__init__()
        self.stale = stale
        self.reason = reason


class RunLoaded(Message):
    """One run as the run detail shows it (None: it no longer exists)."""

    def __init__(self, run: dict[str, Any] | None) -> None:
        super().__init__()
        self.run = run


class RequestLoaded(Message):
    """One request attempt with its response (None: gone by retention)."""

    def __init__(self, request: dict[str, Any] | None) -> None:
        super().__init__()
        self.request = request


class ReportsLoaded(Message):
    """The four reports over one window, read at ``now``."""

    def __init__(self, now: datetime, reports: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.now, self.reports = now, reports


class WorkersLoaded(Message):
    """Workers, job counts and the schedule."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data


class AuditPage(Message):
    """One keyset page of the audit browser and the key of the next one (None: the last)."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        next_key: tuple[datetime, uuid.UUID] | None,
        generation: int,
    ) -> None:
        super().__init__()
        self.rows, self.next_key = rows, next_key
        self.generation = generation  # which filter it belongs to (an older one's is dropped)


class AuditProblem(Message):
    """The audit query failed; the rows shown stay, marked stale."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem


class ActionsLoaded(Message):
    """The newest operator actions."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows
