"""Run one template: lock the cursor, page through the resource, land every page, end honestly."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.errors import ApiError
from ..client.http import ClientPolicy, ResilientClient
from ..client.masking import scrub
from ..client.secrets import SecretUnavailable, resolve_secret
from ..errors import NotFoundError, UsageError
from .dual_write import finish_mirror, open_mirror
from .gc_tuning import tune_gc
from .pager import Pager, StopRun
from .runs import (
    CursorBusy,
    CursorLock,
    create_run,
    finish_run,
    lock_key,
    mark_stale_runs,
    open_cursor,
    record_event,
)

__all__ = ["RunSummary", "run_template"]

HEARTBEAT_S = 10


@dataclass
class RunSummary:
    """How a run ended, with the numbers an operator checks first."""

    run_id: str
    template_id: str
    resource_path: str
    trigger: str
    status: str
    pages: int
    records: int
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

    @property
    def reconciled(self) -> bool | None:
        """Records landed == the server's count (None when the server gave no count)."""
        return None if self.odata_count is None else self.records == self.odata_count

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the reconciliation."""
        return {**asdict(self), "reconciled": self.reconciled}


async def _load(engine: AsyncEngine, template_id: uuid.UUID) -> tuple[dict[str, Any], Any]:
    async with engine.connect() as conn:
        template = (
            (
                await conn.execute(
                    text("SELECT * FROM cc_odata_query_template WHERE id = :id"),
                    {"id": template_id},
                )
            )
            .mappings()
            .one_or_none()
        )
        if template is None:
            raise NotFoundError(f"no template {template_id}")
        config = (
            await conn.execute(
                text("SELECT * FROM cc_api_client_config WHERE id = :id"),
                {"id": template["config_id"]},
            )
        ).one()
    if not config.is_active:
        raise UsageError(f"config {config.name} is inactive; `cc-console config activate` it")
    return dict(template), config


async def _heartbeat(engine: AsyncEngine, run_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        with contextlib.suppress(SQLAlchemyError):
            async with engine.begin() as conn:
                await conn.execute(
                    text("UPDATE cc_sync_run SET heartbeat_at = clock_timestamp() WHERE id = :id"),
                    {"id": run_id},
                )


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
) -> RunSummary:
    """Execute one sync run of a template and return how it ended."""
    tune_gc()
    template, config = await _load(engine, template_id)
    path, filter_hash = template["resource_path"], template["filter_hash"]
    lock = CursorLock(engine, lock_key(config.id, path, filter_hash))
    if not await lock.acquire():
        raise CursorBusy(
            f"another engine is already syncing {path} (filter {filter_hash[:8]}) of config "
            f"{config.name}; wait for it to finish or cancel it"
        )
    started = time.monotonic()
    try:
        await mark_stale_runs(engine)
        run_id = await create_run(
            engine,
            config_id=config.id,
            template_id=template_id,
            parent_run_id=parent_run_id,
            resource_path=path,
            filter_hash=filter_hash,
            trigger=trigger,
            sla_target_s=template["sla_target_s"],
            created_by=created_by,
        )
        status, message = await _execute(
            engine, template, config, run_id, trigger, cancel, transport, coordinate
        )
        row = await finish_run(engine, run_id, status, message)
    finally:
        await lock.release()
    return RunSummary(
        run_id=str(run_id),
        template_id=str(template_id),
        resource_path=path,
        trigger=trigger,
        status=row["status"],
        pages=row["pages"],
        records=row["records"],
        odata_count=row["odata_count"],
        requests=row["requests"],
        retries=row["retries"],
        http_429=row["http_429_count"],
        errors=row["error_count"],
        wait_s=round(row["wait_s"], 3),
        duration_s=round(time.monotonic() - started, 3),
        message=row["message"],
        legacy_writes=row["legacy_writes"],
        legacy_write_failures=row["legacy_write_failures"],
    )


async def _execute(
    engine: AsyncEngine,
    template: dict[str, Any],
    config: Any,
    run_id: uuid.UUID,
    trigger: str,
    cancel: asyncio.Event | None,
    transport: httpx.AsyncBaseTransport | None,
    coordinate: bool = True,
) -> tuple[str, str | None]:
    try:
        key = resolve_secret(config.secret_ref)
    except SecretUnavailable as exc:
        async with engine.begin() as conn:
            await record_event(
                conn,
                kind="secret_unavailable",
                message=str(exc),
                run_id=run_id,
                config_id=config.id,
            )
        return "failed", str(exc)
    mirror = await open_mirror(engine, config, run_id)
    client = ResilientClient(
        ClientPolicy.from_row(config),
        key,
        engine,
        transport=transport,
        coordinate=coordinate,
        mirror=mirror,
    )
    pager = Pager(engine, client, template, config, run_id, cancel)
    heartbeat = asyncio.create_task(_heartbeat(engine, run_id))
    try:
        cursor = await open_cursor(
            engine,
            config_id=config.id,
            template_id=template["id"],
            resource_path=template["resource_path"],
            filter_hash=template["filter_hash"],
            filter_text=template["params"].get("$filter"),
            page_size=pager.top,
            run_id=run_id,
            from_start=trigger != "resume",
        )
        await pager.run(cursor.id, cursor.next_skip, cursor.next_link)
        return "succeeded", None
    except (ApiError, StopRun) as exc:
        kind = exc.kind
        message = scrub(str(exc), [key])
        if isinstance(exc, StopRun) and kind not in ("parse",):
            async with engine.begin() as conn:
                await record_event(
                    conn,
                    kind=kind,
                    message=message,
                    run_id=run_id,
                    config_id=config.id,
                    retryable=exc.retryable,
                    endpoint_path=template["resource_path"],
                )
        status = "partial" if pager.pages else "failed"
        await _close_cursor(engine, run_id, status)
        return status, f"{kind}: {message}"
    except asyncio.CancelledError:
        # Ctrl+C or a cancelled task: close the run honestly (it stays resumable)
        status = "partial" if pager.pages else "failed"
        async with engine.begin() as conn:
            await record_event(
                conn,
                kind="cancelled",
                message="the run was cancelled",
                run_id=run_id,
                config_id=config.id,
            )
        await _close_cursor(engine, run_id, status)
        return status, "cancelled: the run was interrupted by the operator"
    finally:
        heartbeat.cancel()
        await client.aclose()
        if mirror is not None:
            await finish_mirror(engine, mirror, run_id, config.id)
        requests, retries, waited = client.stats.take()
        if requests or waited:  # attempts that never landed a page
            with contextlib.suppress(SQLAlchemyError):
                async with engine.begin() as conn:
                    await conn.execute(
                        text(
                            "UPDATE cc_sync_run SET requests = requests + :r,"
                            " retries = retries + :t, wait_s = wait_s + :w WHERE id = :id"
                        ),
                        {"r": requests, "t": retries, "w": waited, "id": run_id},
                    )


async def _close_cursor(engine: AsyncEngine, run_id: uuid.UUID, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE cc_pagination_state SET status = :status,"
                " updated_at = now() WHERE last_run_id = :run"
            ),
            {"status": status, "run": run_id},
        )
