"""Operational reports over bounded, indexed windows: SLA, throttling, validation, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from .audit_completeness import audit_report
from .sla import sla_report
from .throttling import throttling_report
from .validation import validation_report
from .window import Window, resolve_window

__all__ = ["REPORTS", "Window", "resolve_window", "run_report"]

REPORTS: dict[str, Callable[[Connection, Window], dict[str, Any]]] = {
    "sla": sla_report,
    "throttling": throttling_report,
    "validation": validation_report,
    "audit": audit_report,
}


def run_report(conn: Connection, name: str, window: Window) -> dict[str, Any]:
    """The named report as a JSON-ready dict."""
    return REPORTS[name](conn, window)
