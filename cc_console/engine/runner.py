"""Run one template: lock the cursor, page through the resource, land every page, end honestly.

The engine orchestrates; every row it reads or writes goes through its table's home in
``store/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.http import ClientPolicy, ResilientClient
from ..client.masking import scrub
from ..client.secrets import SecretUnavailable, resolve_secret
from ..errors import ErrorKind, NotFoundError, StopRun, SyncError, UsageError
from ..odata.keys import Key
from ..odata.resources import effective_key
from ..settings import load_settings
from ..store import runs
from ..store.configs import ConfigRow, load_config
from ..store.cursors import (
    CursorBusy,
    CursorLock,
    Lease,
    close_cursor,
    lock_key,
    open_cursor,
    release_lease,
    renew_lease,
    restart_cursor,
    wait_for_lease,
)
from ..store.error_events import record_error_event
from ..store.outage import DatabaseOutage, OutageGuard
from ..store.rate_limits import paced_rate
from ..store.templates import TemplateRow, load_template
from .control import stop_of
from .deletions import detect_deletions
from .gc_tuning import tune_gc
from .incremental import check_detect_deletes, start_keyset_run
from .pager import Pager, RestartCursor
from .sealing import seal_run, sweep_and_seal

__all__ = ["CompanionFactory", "RunCompanion", "RunSummary", "run_template"]

logger = logging.getLogger(__name__)

# The heartbeat beats (and renews the cursor's lease) four times per lease: a run that
# misses three in a row still holds. The lease is ``CC_CURSOR_LEASE_S`` (20 s): a killed
# run's cursor is free — and the run swept as interrupted — that long after its last beat.
BEATS_PER_LEASE = 4


@dataclass
class RunSummary:
    """How a run ended, with the numbers an operator checks first."""

    run_id: str
    template_id: str
    resource_path: str
    trigger: str
    status: str
    pages: int
    records: int  # fetched
    landed: int  # inserted + updated + unchanged
    inserted: int | None
    updated: int | None
    unchanged: int | None
    rejected: int  # fetched but without a usable key
    chain_landed: int | None  # landed by the resume chain (the cursor since its restart)
    odata_count: int | None
    requests: int
    retries: int
    http_429: int
    errors: int
    wait_s: float
    duration_s: float
    message: str | None
    legacy_writes: int | None = None  # dual-write: attempts mirrored (None: not dual-writing)
    legacy_write_failures: int | None = None
    sync_mode: str = "full"  # full, incremental or full_refresh
    keyset_from: str | None = None  # what an incremental run asked for first
    deleted: int | None = None  # Silver rows marked deleted (None: deletions not detected)
    learned_rps: float | None = None  # the rate the engines pace this endpoint at now

    @classmethod
    def of(cls, run: runs.RunRow, duration_s: float) -> RunSummary:
        """The summary of a finished run's row."""
        return cls(
            run_id=str(run.id),
            template_id=str(run.template_id),
            resource_path=run.resource_path,
            trigger=run.trigger,
            status=run.status,
            pages=run.pages,
            records=run.records,
            landed=run.records_landed,
            inserted=run.records_inserted,
            updated=run.records_updated,
            unchanged=run.records_unchanged,
            rejected=run.records_rejected,
            chain_landed=run.chain_records_landed,
            odata_count=run.odata_count,
            requests=run.requests,
            retries=run.retries,
            http_429=run.http_429_count,
            errors=run.error_count,
            wait_s=round(run.wait_s, 3),
            duration_s=round(duration_s, 3),
            message=run.message,
            legacy_writes=run.legacy_writes,
            legacy_write_failures=run.legacy_write_failures,
            sync_mode=run.sync_mode,
            keyset_from=run.keyset_from,
            deleted=run.records_deleted,
        )

    @property
    def reconciled(self) -> bool | None:
        """Landed by the chain == the server's count (None when the server gave no count)."""
        return runs.reconciled(self.odata_count, self.chain_landed, self.landed)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the reconciliation."""
        return {**asdict(self), "reconciled": self.reconciled}


class RunCompanion(Protocol):
    """Work that goes along with a run, given by whoever starts it (e.g. the cutover's
    log follower): told when the run exists, and waited for once it ended — anything it
    writes on the run row is in the summary."""

    async def started(self, run_id: uuid.UUID) -> None: ...

    async def finished(self, run_id: uuid.UUID) -> object: ...

    async def aclose(self) -> None: ...


# what a starter (the console, a worker) is given to make its companions on its own engine
CompanionFactory = Callable[[AsyncEngine], Sequence[RunCompanion]]


async def _load(engine: AsyncEngine, template_id: uuid.UUID) -> tuple[TemplateRow, ConfigRow, Key]:
    async with engine.connect() as conn:
        template = await load_template(conn, template_id)
        if template is None:
            raise NotFoundError(f"no template {template_id}")
        config = await load_config(conn, template.config_id)
    if not config.is_active:
        raise UsageError(f"config {config.name} is inactive; `cc-console config activate` it")
    key = effective_key(template.record_key, template.resource_path, config.dialect)
    if key is None:
        raise UsageError(
            f"template {template.label} has no record key ({template.resource_path} is no"
            f" built-in resource of a {config.dialect} config); add the template again with"
            " --key PROPERTY[,PROPERTY...]"
        )
    return template, config, key


class _Heartbeat:
    """Beats the run's heartbeat and renews its lease until cancelled; ``lost`` once a
    renewal found the lease gone (the next fenced write stops the run); ``cancel_flagged``
    set once a beat found the run's cancel flag (it cuts a retry's wait short)."""

    def __init__(self, engine: AsyncEngine, run_id: uuid.UUID, lease_s: float) -> None:
        self.engine = engine
        self.run_id = run_id
        self.interval_s = lease_s / BEATS_PER_LEASE
        self.lease: Lease | None = None
        self.lost = False
        self.cancel_flagged = asyncio.Event()

    async def run(self) -> None:
        # a pooled connection the server closed (idle_session_timeout, a restart) fails
        # once and is replaced: the beat is tried again within its interval, not skipped
        guard = OutageGuard(self.interval_s)
        while True:
            await asyncio.sleep(self.interval_s)
            with contextlib.suppress(DatabaseOutage, SQLAlchemyError, OSError):
                await guard.run(self._beat, "renewing the lease")

    async def _beat(self) -> None:
        async with self.engine.begin() as conn:
            if await runs.beat_in(conn, self.run_id):
                self.cancel_flagged.set()
            if self.lease is not None and not self.lost:
                self.lost = not await renew_lease(conn, self.lease)


async def run_template(
    engine: AsyncEngine,
    template_id: uuid.UUID,
    *,
    trigger: str = "manual",
    parent_run_id: uuid.UUID | None = None,
    created_by: str = "cc-console",
    cancel: asyncio.Event | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    coordinate: bool = True,
    companions: Sequence[RunCompanion] = (),
    lease_s: float | None = None,
    outage_budget_s: float | None = None,
    full_refresh: bool = False,
    detect_deletes: bool = False,
    job_id: int | None = None,
    auto_resumes: int = 0,
    action_id: uuid.UUID | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> RunSummary:
    """Execute one sync run of a template and return how it ended. ``full_refresh``: an
    incremental template reads everything once (its watermark is ignored, then replaced);
    ``detect_deletes`` with it: Silver rows the server no longer has are marked deleted.
    ``job_id``/``auto_resumes``: a worker's job runs it (see ``workers/``); ``action_id``: the
    operator action that asked for it (``store/operator_actions.py``); ``on_wait``: told in a
    line when the run waits for a dead run's lease on its cursor to run out."""
    tune_gc()
    template, config, record_key = await _load(engine, template_id)
    if detect_deletes:
        check_detect_deletes(template, full_refresh)
    path, filter_hash = template.resource_path, template.filter_hash
    settings = load_settings()
    lease_s = lease_s or settings.cursor_lease_s
    outage = OutageGuard(
        settings.db_outage_budget_s if outage_budget_s is None else outage_budget_s
    )
    lock = CursorLock(engine, lock_key(config.id, path, filter_hash))
    if not await lock.acquire():
        raise CursorBusy(
            f"another engine is already syncing {path} (filter {filter_hash[:8]}) of config "
            f"{config.name}; wait for it to finish or cancel it"
        )
    started = time.monotonic()
    run_id: uuid.UUID | None = None
    try:
        # the lock is ours; a live lease is a run whose lock connection died: alive if it
        # renews (refused), gone once the lease runs out (then swept as interrupted)
        await wait_for_lease(
            engine,
            config_id=config.id,
            resource_path=path,
            filter_hash=filter_hash,
            on_wait=on_wait,
        )
        await sweep_and_seal(engine)
        run_id = await runs.create_run(
            engine,
            config_id=config.id,
            template_id=template_id,
            parent_run_id=parent_run_id,
            resource_path=path,
            filter_hash=filter_hash,
            trigger=trigger,
            sla_target_s=template.sla_target_s,
            created_by=created_by,
            job_id=job_id,
            auto_resumes=auto_resumes,
            action_id=action_id,
        )
        for companion in companions:
            await companion.started(run_id)
        status, message = await _execute(
            engine,
            template,
            config,
            record_key,
            run_id,
            trigger,
            cancel,
            transport,
            coordinate,
            lease_s,
            outage,
            full_refresh,
            detect_deletes,
        )
        ended = run_id
        row = await outage.run(
            lambda: runs.finish_run(engine, ended, status, message), "ending the run"
        )
        await outage.run(lambda: seal_run(engine, ended, config.id), "sealing the run")
    except BaseException:
        await _wind_down(lock, companions, run_id, quiet=True)  # never hides the cause
        raise
    await _wind_down(lock, companions, run_id, quiet=False)
    if companions:  # they may have written to the run row
        async with engine.connect() as conn:
            row = await runs.load_run(conn, run_id) or row
    learned = None
    with contextlib.suppress(SQLAlchemyError, OSError):  # a number to show, not worth failing
        async with engine.connect() as conn:
            learned = await paced_rate(conn, template.config_id, template.resource_path)
    return replace(RunSummary.of(row, time.monotonic() - started), learned_rps=learned)


async def _wind_down(
    lock: CursorLock,
    companions: Sequence[RunCompanion],
    run_id: uuid.UUID | None,
    *,
    quiet: bool,
) -> None:
    """Give the lock back and let the companions finish; ``quiet`` while another error is
    on its way out: theirs are logged, not raised over it."""
    await lock.release()
    if run_id is None:
        return
    for companion in companions:
        try:
            await companion.finished(run_id)
        except Exception:
            if not quiet:
                raise
            logger.warning("a run companion failed while the run ended", exc_info=True)


async def _stop(
    outage: OutageGuard,
    engine: AsyncEngine,
    run_id: uuid.UUID,
    config: ConfigRow,
    status: str,
    event: tuple[ErrorKind, str, bool] | None,
    endpoint_path: str | None = None,
) -> None:
    """End the run's cursor with ``status``, recording the run-level ``event`` if any."""

    async def write() -> None:
        async with engine.begin() as conn:
            if event is not None:
                kind, message, retryable = event
                await record_error_event(
                    conn,
                    kind=kind,
                    message=message,
                    config_id=config.id,
                    run_id=run_id,
                    retryable=retryable,
                    endpoint_path=endpoint_path,
                )
            await close_cursor(conn, run_id, status)

    await outage.run(write, "ending the run")


async def _notice(
    engine: AsyncEngine, run_id: uuid.UUID, config: ConfigRow, message: str, path: str
) -> None:
    """Tell the operator the cursor went back to the beginning, and why."""
    async with engine.begin() as conn:
        await record_error_event(
            conn,
            kind=ErrorKind.CURSOR_RESTARTED,
            message=message,
            config_id=config.id,
            run_id=run_id,
            endpoint_path=path,
        )


async def _execute(
    engine: AsyncEngine,
    template: TemplateRow,
    config: ConfigRow,
    record_key: Key,
    run_id: uuid.UUID,
    trigger: str,
    cancel: asyncio.Event | None,
    transport: httpx.AsyncBaseTransport | None,
    coordinate: bool,
    lease_s: float,
    outage: OutageGuard,
    full_refresh: bool = False,
    detect_deletes: bool = False,
) -> tuple[str, str | None]:
    try:
        key = resolve_secret(config.secret_ref)
    except SecretUnavailable as exc:
        kind = ErrorKind.SECRET_UNAVAILABLE
        await _stop(outage, engine, run_id, config, "failed", (kind, str(exc), False))
        return "failed", str(exc)
    client = ResilientClient(
        ClientPolicy.from_config(config),
        key,
        engine,
        transport=transport,
        coordinate=coordinate and config.coordinate_rate_limits,
    )
    client.outage = outage
    pager = Pager(engine, client, template, config, run_id, cancel, record_key)
    beating = _Heartbeat(engine, run_id, lease_s)
    # a stop asked for here or in the database ends a retry's or a rate limit's wait at once
    client.pause.watch((cancel, beating.cancel_flagged), lambda: stop_of(cancel))
    heartbeat = asyncio.create_task(beating.run())
    try:
        cursor = await open_cursor(
            engine,
            config_id=config.id,
            template_id=template.id,
            resource_path=template.resource_path,
            filter_hash=template.filter_hash,
            filter_text=template.params.get("$filter"),
            page_size=pager.top,
            shape=pager.shape,
            run_id=run_id,
            from_start=trigger != "resume",
            lease_s=lease_s,
        )
        beating.lease = client.fence = cursor.lease
        skip, link = cursor.next_skip, cursor.next_link
        restarted = cursor.restarted
        keyset = pager.replication is not None
        if not restarted and not keyset and template.paging == "server" and not link and skip:
            restarted = (
                f"server-driven paging cannot go on from $skip {skip} without the server's"
                " next link; the cursor starts again from the beginning"
            )
            await restart_cursor(engine, cursor.lease)
            skip = 0
        if restarted:
            await _notice(engine, run_id, config, restarted, template.resource_path)
        if keyset:
            resumed = trigger == "resume" and restarted is None
            await start_keyset_run(
                engine, pager, cursor, run_id, resumed, full_refresh, detect_deletes
            )
        try:
            await pager.run(cursor.lease, skip, link)
        except RestartCursor as restart:  # the stored link expired: from the beginning
            await _notice(engine, run_id, config, restart.reason, template.resource_path)
            await restart_cursor(engine, cursor.lease)
            pager.paging.restart()
            await pager.run(cursor.lease, 0, None)
        if pager.rejected:  # read to the end, but not every record could land
            status = "partial" if pager.landed else "failed"
            return status, (
                f"rejected: {pager.rejected:,} records had no usable key"
                f" ({', '.join(record_key)}); they are in the response log and the validation rows"
            )
        if pager.seen_chain is not None:  # the chain read everything: what is gone now
            found = await detect_deletions(pager, pager.seen_chain)
            return "succeeded", found.note
        return "succeeded", None
    except SyncError as exc:
        message = scrub(str(exc), [key])
        status = runs.end_status(pager.pages)
        # an attempt's failure has its event already (with its request); a stop gets one here
        # — but a parse failure was recorded with its response
        recorded = not isinstance(exc, StopRun) or exc.kind is ErrorKind.PARSE
        event = None if recorded else (exc.kind, message, exc.retryable)
        await _stop(outage, engine, run_id, config, status, event, template.resource_path)
        return status, f"{exc.kind}: {message}"
    except CursorBusy as exc:  # another run took the cursor between our wait and our claim
        await _stop(
            outage, engine, run_id, config, "failed", (ErrorKind.LOST_CURSOR, str(exc), True)
        )
        return "failed", f"{ErrorKind.LOST_CURSOR}: {exc}"
    except (DatabaseOutage, SQLAlchemyError, OSError):
        raise  # the database went away: nothing can be written; the stale sweep ends the run
    except Exception as exc:  # a bug: the run ends failed, with the cause, never left running
        logger.debug("run %s: unexpected %s", run_id, type(exc).__name__, exc_info=True)
        message = scrub(f"unexpected {type(exc).__name__}: {exc}", [key])
        event = (ErrorKind.INTERNAL, message, False)
        with contextlib.suppress(SQLAlchemyError, OSError):
            await _stop(outage, engine, run_id, config, "failed", event, template.resource_path)
        return "failed", f"{ErrorKind.INTERNAL}: {message}"
    except asyncio.CancelledError:
        # Ctrl+C or a cancelled task: close the run honestly (it stays resumable); a worker
        # that shuts down says so, and its run is resumed by another
        status = runs.end_status(pager.pages)
        stop = stop_of(cancel)
        if stop.kind is not ErrorKind.CANCELLED:  # a worker's stop request, not an operator's
            event = (stop.kind, stop.message, stop.retryable)
            await _stop(outage, engine, run_id, config, status, event)
            return status, f"{stop.kind}: {stop.message}"
        event = (ErrorKind.CANCELLED, "the run was cancelled", False)
        await _stop(outage, engine, run_id, config, status, event)
        return status, "cancelled: the run was interrupted by the operator"
    finally:
        heartbeat.cancel()
        with contextlib.suppress(SQLAlchemyError, OSError):
            async with engine.begin() as conn:
                await release_lease(conn, run_id)
        await client.aclose()
        requests, retries, waited = client.stats.take()
        if requests or waited:  # attempts that never landed a page
            with contextlib.suppress(SQLAlchemyError):
                await runs.add_attempt_counts(engine, run_id, requests, retries, waited)
