"""Sync orchestration: runs, the paging loop, resume, Silver upsert, validation."""

from __future__ import annotations

from .runner import RunSummary, run_template
from .runs import CursorBusy, mark_stale_runs

__all__ = ["CursorBusy", "RunSummary", "mark_stale_runs", "run_template"]
