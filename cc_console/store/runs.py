"""``cc_sync_run``: one execution of a template — created, counted, beaten, flagged, finished.

Counters a page adds are written by the page's landing (``PAGE_COUNTERS``, composed into one
statement by ``landing.py``); errors add theirs through ``error_events.record_error_event``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..run_ids import RunIdPrefix
from .events import notify
from .rows import fetch_dicts

__all__ = [
    "STALE_AFTER_S",
    "PAGE_COUNTERS",
    "RunProgress",
    "RunRow",
    "add_attempt_counts",
    "beat_in",
    "cancel_requested",
    "count_error",
    "create_run",
    "database_clock",
    "end_status",
    "find_runs",
    "finish_run",
    "latest_run_id",
    "load_run",
    "mark_interrupted",
    "reconciled",
    "recent_runs",
    "recent_runs_view",
    "run_counts",
    "run_view",
    "request_cancel",
    "run_progress",
    "running_runs",
    "set_legacy_counts",
]


@dataclass(frozen=True)
class RunRow:
    """A row of ``cc_sync_run``."""

    id: uuid.UUID
    config_id: uuid.UUID
    template_id: uuid.UUID | None
    parent_run_id: uuid.UUID | None
    resource_path: str
    filter_hash: str | None
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime
    pages: int
    records: int  # fetched: records the server sent
    records_landed: int  # inserted + updated + unchanged, counted by the landings
    records_inserted: int | None  # None: a run from before the split was counted
    records_updated: int | None
    records_unchanged: int | None
    records_rejected: int  # fetched but could not land (no key)
    chain_records_landed: int | None  # the cursor's landed count since its restart, at the end
    odata_count: int | None
    requests: int
    retries: int
    http_429_count: int
    error_count: int
    legacy_writes: int | None
    legacy_write_failures: int | None
    wait_s: float
    sla_target_s: int | None
    cancel_requested_at: datetime | None
    created_by: str
    message: str | None
    sync_mode: str = "full"  # full, incremental or full_refresh
    keyset_from: str | None = None  # what an incremental run asked for first
    records_deleted: int | None = None  # Silver rows marked deleted (None: not detecting)
    job_id: int | None = None  # the worker's job that ran it (None: started inline)
    auto_resumes: int = 0  # resumes a worker made by itself in the chain up to this run

    @classmethod
    def of(cls, row: Any) -> RunRow:
        """From a result row that has (at least) every column."""
        mapping = row._mapping
        return cls(**{f.name: mapping[f.name] for f in fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def reconciled(self) -> bool | None:
        """See :func:`reconciled`."""
        return reconciled(self.odata_count, self.chain_records_landed, self.records_landed)


_COLUMNS = ", ".join(f.name for f in fields(RunRow))


# a running run without a lease is gone when its heartbeat (every 5 s) is this old
STALE_AFTER_S = 30


def end_status(pages: int) -> str:
    """How a run that stopped early ends: ``partial`` when a page landed, else ``failed``."""
    return "partial" if pages else "failed"


def reconciled(odata_count: int | None, chain_landed: int | None, landed: int) -> bool | None:
    """Whether what landed equals what the server counted — over the whole resume chain (the
    cursor's count since its restart) when it is known, else this run's own; None when the
    server gave no count. The one definition: sync, runs, the console and the reports."""
    if odata_count is None:
        return None
    return (chain_landed if chain_landed is not None else landed) == odata_count


# the run side of a page's landing: one CTE of the landing statement (see landing.py)
PAGE_COUNTERS = """
    run AS (
        UPDATE cc_sync_run SET pages = pages + 1, records = records + :n,
            records_landed = records_landed + :landed,
            records_inserted = records_inserted + :inserted,
            records_updated = records_updated + :updated,
            records_unchanged = records_unchanged + :unchanged,
            records_rejected = records_rejected + :rejected,
            requests = requests + :requests, retries = retries + :retries,
            odata_count = COALESCE(CAST(:count AS bigint), odata_count),
            wait_s = wait_s + :waited, heartbeat_at = clock_timestamp()
        WHERE id = :run RETURNING cancel_requested_at
    )
"""


async def create_run(
    engine: AsyncEngine,
    *,
    config_id: uuid.UUID,
    template_id: uuid.UUID,
    parent_run_id: uuid.UUID | None,
    resource_path: str,
    filter_hash: str,
    trigger: str,
    sla_target_s: int | None,
    created_by: str,
    job_id: int | None = None,
    auto_resumes: int = 0,
    action_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Insert a ``running`` run and announce it."""
    async with engine.begin() as conn:
        run_id: uuid.UUID = (
            await conn.execute(
                text(
                    "INSERT INTO cc_sync_run (config_id, template_id, parent_run_id, resource_path,"
                    " filter_hash, trigger, status, sla_target_s, created_by, job_id, auto_resumes,"
                    " action_id) VALUES (:config, :template, :parent, :path, :fh, :trigger,"
                    " 'running', :sla, :by, :job, :auto, :action) RETURNING id"
                ),
                {
                    "config": config_id,
                    "template": template_id,
                    "parent": parent_run_id,
                    "path": resource_path,
                    "fh": filter_hash,
                    "trigger": trigger,
                    "sla": sla_target_s,
                    "by": created_by,
                    "job": job_id,
                    "auto": auto_resumes,
                    "action": action_id,
                },
            )
        ).scalar_one()
        await notify(conn, "run", run_id=run_id, status="running")
    return run_id


async def set_sync_mode(
    engine: AsyncEngine, run_id: uuid.UUID, mode: str, keyset_from: str | None
) -> None:
    """How the run reads: full, incremental or full_refresh, and what it asked for first."""
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE cc_sync_run SET sync_mode = :mode, keyset_from = :asked WHERE id = :id"),
            {"mode": mode, "asked": keyset_from, "id": run_id},
        )


async def finish_run(
    engine: AsyncEngine, run_id: uuid.UUID, status: str, message: str | None
) -> RunRow:
    """Close a run with its final status and announce it; returns its row."""
    async with engine.begin() as conn:
        row = (
            await conn.execute(
                text(
                    "UPDATE cc_sync_run r SET status = :status, message = :message,"
                    " finished_at = GREATEST(clock_timestamp(), started_at),"
                    " chain_records_landed = (SELECT p.records_landed FROM cc_pagination_state p"
                    "   WHERE p.last_run_id = r.id),"
                    # a resume that followed a stored link was never told the count: the
                    # chain's count, kept by the cursor, is what its landed count is held to
                    " odata_count = COALESCE(r.odata_count, (SELECT p.odata_count"
                    "   FROM cc_pagination_state p WHERE p.last_run_id = r.id)),"
                    f" heartbeat_at = clock_timestamp() WHERE id = :id RETURNING {_COLUMNS}"
                ),
                {"status": status, "message": message, "id": run_id},
            )
        ).one()
        await notify(conn, "run", run_id=run_id, status=status)
    return RunRow.of(row)


async def load_run(conn: AsyncConnection, run_id: uuid.UUID) -> RunRow | None:
    """The run with this id, or None."""
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM cc_sync_run WHERE id = :id"), {"id": run_id}
        )
    ).one_or_none()
    return None if row is None else RunRow.of(row)


async def mark_interrupted(conn: AsyncConnection, run_id: uuid.UUID, status: str) -> None:
    """End a run whose engine is gone (the stale sweep's part of this table)."""
    await conn.execute(
        text(
            "UPDATE cc_sync_run SET status = :status, finished_at = GREATEST(clock_timestamp(),"
            " started_at), message = 'interrupted: the engine stopped without finishing'"
            " WHERE id = :id"
        ),
        {"status": status, "id": run_id},
    )


async def beat_in(conn: AsyncConnection, run_id: uuid.UUID) -> bool:
    """The engine is alive: move the heartbeat (in the caller's transaction); whether
    someone asked the run to stop."""
    flagged = (
        await conn.execute(
            text(
                "UPDATE cc_sync_run SET heartbeat_at = clock_timestamp() WHERE id = :id"
                " RETURNING cancel_requested_at IS NOT NULL"
            ),
            {"id": run_id},
        )
    ).scalar_one_or_none()
    return bool(flagged)


async def count_error(
    conn: AsyncConnection, run_id: uuid.UUID, *, throttled: bool, alive: bool
) -> None:
    """One more error of the run (one more 429 when ``throttled``); ``alive``: written by
    the run's own engine mid-attempt, so it is a heartbeat too."""
    beat_now = ", heartbeat_at = clock_timestamp()" if alive else ""
    await conn.execute(
        text(
            "UPDATE cc_sync_run SET error_count = error_count + 1,"
            f" http_429_count = http_429_count + CAST(:throttled AS integer){beat_now}"
            " WHERE id = :run"
        ),
        {"run": run_id, "throttled": 1 if throttled else 0},
    )


async def add_attempt_counts(
    engine: AsyncEngine, run_id: uuid.UUID, requests: int, retries: int, waited_s: float
) -> None:
    """Attempts and waits that no page landing counted (the run's last, failed ones)."""
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE cc_sync_run SET requests = requests + :r, retries = retries + :t,"
                " wait_s = wait_s + :w WHERE id = :id"
            ),
            {"r": requests, "t": retries, "w": waited_s, "id": run_id},
        )


async def set_legacy_counts(
    conn: AsyncConnection, run_id: uuid.UUID, written: int, failed: int
) -> None:
    """How many of the run's attempts the cutover's follower wrote to the legacy store."""
    await conn.execute(
        text(
            "UPDATE cc_sync_run SET legacy_writes = :written, legacy_write_failures = :failed"
            " WHERE id = :id"
        ),
        {"written": written, "failed": failed, "id": run_id},
    )


async def cancel_requested(engine: AsyncEngine, run_id: uuid.UUID) -> bool:
    """Whether someone asked this run to stop."""
    async with engine.connect() as conn:
        flag = (
            await conn.execute(
                text("SELECT cancel_requested_at FROM cc_sync_run WHERE id = :id"), {"id": run_id}
            )
        ).scalar_one()
    return flag is not None


async def request_cancel(engine: AsyncEngine, run_id: uuid.UUID) -> bool:
    """Flag a running run to stop between attempts; False when it is not running."""
    async with engine.begin() as conn:
        flagged = (
            await conn.execute(
                text(
                    "UPDATE cc_sync_run SET cancel_requested_at = now()"
                    " WHERE id = :id AND status = 'running' RETURNING id"
                ),
                {"id": run_id},
            )
        ).first()
    return flagged is not None


async def find_runs(engine: AsyncEngine, prefix: RunIdPrefix, limit: int = 2) -> list[RunRow]:
    """Runs whose id starts with ``prefix`` (a range of the primary key)."""
    low, high = prefix.bounds()
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM cc_sync_run WHERE id BETWEEN :low AND :high"
                " ORDER BY id LIMIT :n"
            ),
            {"low": low, "high": high, "n": limit},
        )
        return [RunRow.of(row) for row in rows]


async def running_runs(conn: AsyncConnection, stale_after_s: float) -> list[tuple[RunRow, bool]]:
    """Running runs not locked by another sweep, each with whether its heartbeat is older
    than ``stale_after_s``; locked until the caller's transaction ends."""
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS}, heartbeat_at < clock_timestamp() - make_interval(secs => :s)"
            " AS old FROM cc_sync_run WHERE status = 'running' FOR UPDATE SKIP LOCKED"
        ),
        {"s": stale_after_s},
    )
    return [(RunRow.of(row), bool(row.old)) for row in rows]


def latest_run_id(conn: Connection, template_id: uuid.UUID) -> uuid.UUID | None:
    """The newest run of a template."""
    found: uuid.UUID | None = conn.execute(
        text("SELECT id FROM cc_sync_run WHERE template_id = :t ORDER BY started_at DESC LIMIT 1"),
        {"t": template_id},
    ).scalar()
    return found


def recent_runs(conn: Connection, limit: int) -> list[RunRow]:
    """The newest runs, newest first."""
    rows = conn.execute(
        text(f"SELECT {_COLUMNS} FROM cc_sync_run ORDER BY started_at DESC LIMIT :n"), {"n": limit}
    )
    return [RunRow.of(row) for row in rows]


@dataclass(frozen=True)
class RunProgress:
    """A running sync's numbers for a progress line."""

    id: uuid.UUID
    resource_path: str
    status: str
    pages: int
    records: int  # fetched: records the server sent
    records_landed: int  # inserted + updated + unchanged, counted by the landings
    records_inserted: int | None  # None: a run from before the split was counted
    records_updated: int | None
    records_unchanged: int | None
    records_rejected: int  # fetched but could not land (no key)
    chain_records_landed: int | None  # the cursor's landed count since its restart, at the end
    odata_count: int | None
    requests: int
    http_429_count: int
    wait_s: float
    age_s: float


async def database_clock(engine: AsyncEngine) -> datetime:
    """The database's clock now (runs are timed by it, whatever the client's clock says)."""
    async with engine.connect() as conn:
        now: datetime = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
    return now


async def run_progress(
    conn: AsyncConnection, template_ids: list[uuid.UUID], since: datetime
) -> list[RunProgress]:
    """Runs of these templates started since ``since``, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT id, resource_path, status, pages, records, records_landed, records_rejected,"
            " odata_count, requests, http_429_count, wait_s,"
            " EXTRACT(EPOCH FROM clock_timestamp() - started_at) AS age_s"
            " FROM cc_sync_run WHERE template_id = ANY(:templates) AND started_at >= :since"
            " ORDER BY started_at"
        ),
        {"templates": template_ids, "since": since},
    )
    return [
        RunProgress(
            **{f.name: row._mapping[f.name] for f in fields(RunProgress) if f.name != "age_s"},
            age_s=float(row.age_s or 0),
        )
        for row in rows
    ]


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_RECENT_VIEW = text(
    """
    SELECT r.id, r.parent_run_id, r.template_id, COALESCE(t.name, r.resource_path) AS template,
           r.resource_path, r.trigger, r.status, r.started_at, r.finished_at, r.heartbeat_at,
           r.pages, r.records, r.records_landed, r.records_rejected, r.chain_records_landed,
           COALESCE(r.chain_records_landed, r.records_landed) AS landed_by_chain,
           r.odata_count, r.requests, r.retries, r.http_429_count,
           r.error_count, r.wait_s, r.sla_target_s, r.cancel_requested_at, r.message,
           r.sync_mode,
           -- the stale sweep's rule, read at the viewer's clock (the console never sweeps
           -- on a timer): a running run whose heartbeat is old or whose lease ran out
           r.status = 'running' AND (
               r.heartbeat_at < CAST(:now AS timestamptz) - make_interval(secs => :stale_s)
               OR EXISTS (SELECT 1 FROM cc_pagination_state p WHERE p.owner_run_id = r.id
                          AND p.lease_expires_at <= CAST(:now AS timestamptz))
           ) AS stale
    FROM cc_sync_run r LEFT JOIN cc_odata_query_template t ON t.id = r.template_id
    ORDER BY r.started_at DESC, r.id DESC LIMIT :limit
    """
)

_RUN_VIEW = text(
    """
    SELECT r.*, COALESCE(t.name, r.resource_path) AS template, c.name AS config
    FROM cc_sync_run r
    JOIN cc_api_client_config c ON c.id = r.config_id
    LEFT JOIN cc_odata_query_template t ON t.id = r.template_id
    WHERE r.id = :id
    """
)


async def recent_runs_view(
    conn: AsyncConnection, limit: int, now: datetime
) -> list[dict[str, Any]]:
    """The newest runs with their template's name, newest first; ``stale`` as of ``now``."""
    return await fetch_dicts(conn, _RECENT_VIEW, limit=limit, now=now, stale_s=STALE_AFTER_S)


async def run_counts(conn: AsyncConnection) -> tuple[int, int]:
    """(all runs, running runs)."""
    row = (
        await conn.execute(
            text("SELECT count(*), count(*) FILTER (WHERE status = 'running') FROM cc_sync_run")
        )
    ).one()
    return int(row[0]), int(row[1])


async def run_view(conn: AsyncConnection, run_id: uuid.UUID) -> dict[str, Any] | None:
    """One run with its template's and config's names."""
    found = await fetch_dicts(conn, _RUN_VIEW, id=run_id)
    return found[0] if found else None
