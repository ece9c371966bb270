"""Messages workers post to the app; handlers on the app and screens own all state."""

from __future__ import annotations

from textual.message import Message

from ..store.dashboard import Dashboard

__all__ = ["DashboardLoaded", "DataChanged", "LinkState"]


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
