"""Sync orchestration: a run of one template, its paging loop, resume and retry.

The engine writes no SQL of its own: rows go through their table's home in ``store/``.
"""

from __future__ import annotations

from ..store.cursors import CursorBusy
from .runner import CompanionFactory, RunCompanion, RunSummary, run_template
from .sealing import sweep_and_seal as mark_stale_runs  # the sweep, then the seals

__all__ = [
    "CompanionFactory",
    "CursorBusy",
    "RunCompanion",
    "RunSummary",
    "mark_stale_runs",
    "run_template",
]
