"""Where an incremental (keyset) run starts, and when it may detect deletions.

A resume continues where its cursor's keyset state stands; a new run starts from the
watermark − lookback (from the beginning on its first run or a full refresh) and keeps that
start in the cursor before its first page, so a resume of a run that landed nothing starts
from the same place.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import UsageError
from ..odata.keyset import Position, lower_bound
from ..odata.resources import is_study_scoped
from ..store import runs
from ..store.cursors import CursorStart, start_keyset
from ..store.templates import TemplateRow
from .pager import Pager

__all__ = ["check_detect_deletes", "start_keyset_run"]


def check_detect_deletes(template: TemplateRow, full_refresh: bool) -> None:
    """Deletions are detected only where a missing row can only mean a deleted one."""
    if not full_refresh or template.incremental is None:
        raise UsageError(
            "--detect-deletes goes with --full-refresh of an incremental template (keyset"
            " paging reads every row that exists throughout the run)"
        )
    if template.params.get("$filter") or is_study_scoped(template.resource_path):
        raise UsageError(
            "--detect-deletes is refused on a template with a filter or a study scope: a row"
            " that left the filter is not a deletion"
        )


async def start_keyset_run(
    engine: AsyncEngine,
    pager: Pager,
    cursor: CursorStart,
    run_id: uuid.UUID,
    resumed: bool,
    full_refresh: bool,
    detect_deletes: bool,
) -> None:
    """Where a keyset run starts: a resume where its cursor stands; a new run from the
    watermark − lookback (from the beginning on its first run or a full refresh)."""
    replication = pager.replication
    assert replication is not None
    kept = cursor.keyset if resumed else None
    if kept is not None and kept.get("field") == replication.field:
        pager.lower = kept.get("lower")
        pager.position = Position.of(kept, replication.field)
        pager.mode = str(kept.get("mode") or "incremental")
        chain = kept.get("seen_chain")
        pager.seen_chain = uuid.UUID(str(chain)) if chain else None
    else:
        mark = None if full_refresh else Position.of(cursor.watermark, replication.field)
        pager.lower = None if mark is None else lower_bound(mark.w, replication, pager.zone)
        pager.position = None
        pager.mode = "full_refresh" if full_refresh else "full" if mark is None else "incremental"
        pager.seen_chain = run_id if detect_deletes else None
        state = pager.keyset_state()
        assert state is not None
        await start_keyset(engine, cursor.lease, state)
    await runs.set_sync_mode(engine, run_id, pager.mode, pager.keyset_predicate() or "everything")
