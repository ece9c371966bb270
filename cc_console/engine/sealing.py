"""Sealing the audit chains when runs end, and after the stale sweep.

A run's engine seals its chains right after the run row is closed. Runs whose engine died are
ended by the stale sweep and sealed here from their stored heads; so are runs that ended while
the key could not be read, and batches of rows written outside any run. Without the key a
run still ends (its chains stay open, ``audit verify`` names them) — the data is not held
hostage to the audit key.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.seal_key import seal_key_or_none
from ..store.audit_seal import Sealed, seal_chain, seal_open_chains
from ..store.runs import database_clock
from ..store.stale import mark_stale_runs

__all__ = ["seal_ended", "seal_run", "sweep_and_seal"]


async def seal_run(engine: AsyncEngine, run_id: uuid.UUID, config_id: uuid.UUID) -> Sealed | None:
    """Seal an ended run's chains (None: no key, or sealed already)."""
    key = seal_key_or_none()
    if key is None:
        return None
    return await seal_chain(
        engine, run_id, key, sealed_by="run", config_id=config_id, run_id=run_id
    )


async def seal_ended(engine: AsyncEngine) -> list[Sealed]:
    """Seal every chain that ended without a seal (see ``store/audit_seal.py``)."""
    key = seal_key_or_none()
    if key is None:
        return []
    return await seal_open_chains(engine, key, now=await database_clock(engine))


async def sweep_and_seal(engine: AsyncEngine) -> list[uuid.UUID]:
    """The stale sweep (``store/stale.py``), then seal every chain that ended unsealed;
    returns the ids of the runs the sweep ended."""
    marked = await mark_stale_runs(engine)
    await seal_ended(engine)
    return marked
