"""Steering runs from the CLI or the console: find a run, continue it, ask it to stop.

Cancellation is a flag on the run row, so a console can stop an engine in any process; the
engine reads it with each page it lands and between attempts.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import ErrorKind, NotFoundError, StopRun, UsageError
from ..run_ids import RunIdError, parse_run_id
from ..store.cursors import CursorBusy, lease_remaining, wait_for_lease
from ..store.runs import RunRow, find_runs, load_run, request_cancel
from ..store.templates import ActiveTemplate
from ..store.templates import active_templates as _active_templates
from .sealing import sweep_and_seal

__all__ = [
    "StopRequest",
    "active_templates",
    "continue_job",
    "request_cancel",
    "resolve_run",
    "settle_run",
    "stop_of",
]


class StopRequest(asyncio.Event):
    """An in-process ask to stop a run between attempts, saying why: an operator's cancel
    (``cancelled``: left for a person) or a worker shutting down (``interrupted``: a worker
    resumes it)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__()
        self.kind = kind
        self.message = message


def stop_of(cancel: asyncio.Event | None) -> StopRun:
    """The stop a run makes when asked to: a set :class:`StopRequest` says why; anything
    else (a plain event, the run row's cancel flag) is an operator's cancel."""
    if isinstance(cancel, StopRequest) and cancel.is_set():
        return StopRun(cancel.kind, cancel.message, retryable=cancel.kind.auto_resumable)
    return StopRun(ErrorKind.CANCELLED, "cancelled by request")


RESUMABLE = ("failed", "partial")  # an interrupted run is one of them, with its event


async def resolve_run(engine: AsyncEngine, ref: str) -> RunRow:
    """The run whose id is ``ref`` or starts with it; a clear error otherwise."""
    try:
        prefix = parse_run_id(ref)
    except RunIdError as exc:
        raise UsageError(f"{ref!r}: {exc}") from None
    rows = await find_runs(engine, prefix)
    if not rows:
        raise NotFoundError(f"no run matches {ref!r}; see `cc-console runs`")
    if len(rows) > 1:
        raise UsageError(f"{ref!r} matches several runs; give more of the id")
    return rows[0]


async def settle_run(
    engine: AsyncEngine, run: RunRow, on_wait: Callable[[float], None] = lambda _s: None
) -> RunRow:
    """A ``running`` run as it really is: when it holds a lease, wait (``on_wait`` is told
    how long at most) to see whether its engine renews it — then it is running — or lets it
    run out: then the engine is gone, and the run is swept as interrupted, resumable."""
    if run.status != "running":
        return run
    async with engine.connect() as conn:
        left = await lease_remaining(conn, run.id)
    if left is not None:
        on_wait(left)
        try:
            await wait_for_lease(
                engine,
                config_id=run.config_id,
                resource_path=run.resource_path,
                filter_hash=run.filter_hash or "",
            )
        except CursorBusy:
            return run
    await sweep_and_seal(engine)
    async with engine.connect() as conn:
        return await load_run(conn, run.id) or run


def continue_job(run: Any, trigger: str, created_by: str) -> dict[str, Any]:
    """Keyword arguments of ``run_template`` that resume or retry ``run`` (a :class:`RunRow`
    or a console row with ``id``, ``status`` and ``template_id``)."""
    if trigger not in ("resume", "retry"):
        raise ValueError(trigger)
    status, template_id, run_id = _fields(run)
    if status == "running":
        raise UsageError("that run is still running; cancel it first")
    if trigger == "resume" and status not in RESUMABLE:
        raise UsageError(
            f"only failed or partial runs resume (this one {status}); `cc-console retry`"
            " runs its template again from the start"
        )
    if template_id is None:
        raise UsageError("that run has no template to continue")
    return {
        "template_id": template_id,
        "trigger": trigger,
        "parent_run_id": run_id,
        "created_by": created_by,
    }


def _fields(run: Any) -> tuple[str, uuid.UUID | None, uuid.UUID]:
    if isinstance(run, RunRow):
        return run.status, run.template_id, run.id
    return run["status"], run["template_id"], run["id"]


async def active_templates(engine: AsyncEngine) -> list[ActiveTemplate]:
    """Templates that may be synced now (active, of an active config), by config and name."""
    async with engine.connect() as conn:
        return await _active_templates(conn)
