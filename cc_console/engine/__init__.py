"""Sync orchestration: a run of one template, its paging loop, resume and retry.

The engine writes no SQL of its own: rows go through their table's home in ``store/``.
"""

from __future__ import annotations

from ..store.cursors import CursorBusy
from ..store.stale import mark_stale_runs
from .runner import CompanionFactory, RunCompanion, RunSummary, run_template

__all__ = [
    "CompanionFactory",
    "CursorBusy",
    "RunCompanion",
    "RunSummary",
    "mark_stale_runs",
    "run_template",
]
