"""Run one template: lock the cursor, page through the resource, land every page, end honestly."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.errors import ApiError
from ..client.http import Attempt, ClientPolicy, ResilientClient
from ..client.masking import scrub
from ..client.secrets import SecretUnavailable, resolve_secret
from ..errors import NotFoundError, UsageError
from ..odata.envelope import EnvelopeError, Page, parse_page
from ..odata.query import encode_query
from ..odata.resources import RESOURCE_SCHEMAS, Validation, resource_name, validate_records
from ..store.audit import write_failure
from ..store.landing import CursorAdvance, PageLanding, land_page, silver_rows
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

    @property
    def reconciled(self) -> bool | None:
        """Records landed == the server's count (None when the server gave no count)."""
        return None if self.odata_count is None else self.records == self.odata_count

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the reconciliation."""
        return {**asdict(self), "reconciled": self.reconciled}


@dataclass
class _Prepared:
    """A fetched page, parsed and validated, with its Silver hashes: ready to land."""

    attempt: Attempt
    page: Page
    validation: Validation
    hashes: str
    valid: str


class _Stop(Exception):
    """Ends the paging loop with a status and a reason."""

    def __init__(self, kind: str, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


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


def _same_origin(link: str, base_url: str) -> bool:
    a, b = urlsplit(link), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class _Pager:
    """The paging loop of one run."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: ResilientClient,
        template: dict[str, Any],
        config: Any,
        run_id: uuid.UUID,
        cancel: asyncio.Event | None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.template = template
        self.config = config
        self.run_id = run_id
        self.cancel = cancel
        self.resource = resource_name(template["resource_path"])
        schema = RESOURCE_SCHEMAS.get(self.resource)
        self.key = schema.key if schema else "id"
        params = dict(template["params"])
        self.top = int(params.pop("$top", config.default_page_size))
        self.orderby = params.pop("$orderby", None) or f"{self.key} asc"
        params.pop("$skip", None)
        params.pop("$count", None)
        self.params = params
        self.pages = 0
        self.count: int | None = None
        self.cancel_seen = False

    def url(self, skip: int, first: bool) -> str:
        query = {
            **self.params,
            "$orderby": self.orderby,
            "$top": self.top,
            "$skip": skip,
            "$count": "true" if first else None,
        }
        return f"{self.config.base_url}{self.template['resource_path']}?{encode_query(query)}"

    async def cancelled(self) -> bool:
        """Cancel asked in-process, or in the database (seen by the last landing)."""
        if self.cancel is not None and self.cancel.is_set():
            return True
        if self.pages:
            return self.cancel_seen
        async with self.engine.connect() as conn:
            flag = (
                await conn.execute(
                    text("SELECT cancel_requested_at FROM cc_sync_run WHERE id = :id"),
                    {"id": self.run_id},
                )
            ).scalar_one()
        return flag is not None

    def _next_url(self, skip: int, link: str | None, first: bool) -> tuple[str, bool]:
        """The URL of the next page and whether it is our own ($skip) request."""
        if link:
            if not _same_origin(link, self.config.base_url):
                where = urlsplit(link)
                raise _Stop(
                    "foreign_next_link",
                    f"refused a next link to another host: {where.scheme}://{where.netloc}",
                )
            return link, False
        return self.url(skip, first), True

    def _fetch(self, url: str) -> asyncio.Future[_Prepared]:
        return asyncio.ensure_future(self._fetch_and_prepare(url))

    async def _fetch_and_prepare(self, url: str) -> _Prepared:
        """Fetch, parse and validate one page: CPU work that overlaps the previous landing."""
        attempt = await self.client.get(
            url,
            endpoint_path=self.template["resource_path"],
            run_id=self.run_id,
            template_id=self.template["id"],
        )
        page = await self._parse(attempt)
        validation = validate_records(self.resource, page.records, key=self.key)
        if not validation.ok:
            attempt.response.validation_errors = validation.errors_sample
        hashes, valid = silver_rows(page.records, self.key, set(validation.invalid_keys))
        return _Prepared(attempt, page, validation, hashes, valid)

    async def run(self, cursor_id: uuid.UUID, skip: int, next_link: str | None) -> None:
        """Page until done. The next page is fetched while the current one lands."""
        if await self.cancelled():
            raise _Stop("cancelled", "cancelled by request")
        url, own = self._next_url(skip, next_link, first=True)
        pending: asyncio.Future[_Prepared] | None = self._fetch(url)
        window = 0
        try:
            while pending is not None:
                if own:
                    window = 0  # records served since our own last $skip/$top request
                prepared = await pending
                pending = None
                page = prepared.page
                served, link = len(page.records), page.next_link
                if page.count is not None:
                    self.count = page.count  # asked for on the first page only
                window += served
                short = window < self.top  # a server page cap ends a link chain, not the data
                counted_out = self.count is not None and skip + served >= self.count
                done = served == 0 or (link is None and (short or counted_out))
                follow_up: _Stop | None = None
                if not done:
                    try:
                        if await self.cancelled():
                            raise _Stop("cancelled", "cancelled by request")
                        url, own = self._next_url(skip + served, link, first=False)
                        pending = self._fetch(url)
                    except _Stop as stop:
                        follow_up = stop  # land this page first, then stop
                # a refused link is not kept: a resume continues with $skip paging instead
                keep = None if follow_up and follow_up.kind == "foreign_next_link" else link
                await self._land(prepared, cursor_id, skip + served, keep, done)
                self.pages += 1
                if follow_up is not None:
                    raise follow_up
                skip += served
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    async def _parse(self, attempt: Attempt) -> Page:
        response = attempt.response
        try:
            page = parse_page(response.body)
        except EnvelopeError as exc:
            response.parse_ok = False
            await write_failure(
                self.engine,
                request=attempt.request,
                response=response,
                kind="parse",
                retryable=False,
                message=str(exc)[:500],
                status_code=response.status_code,
                endpoint_path=self.template["resource_path"],
                config_id=self.config.id,
                run_id=self.run_id,
                detail={"content_type": response.content_type},
            )
            raise _Stop("parse", f"unparseable page: {exc}", retryable=False) from None
        response.parse_ok = True
        response.is_json = True
        response.odata_count = page.count
        response.has_next_link = page.next_link is not None
        return page

    async def _land(
        self,
        prepared: _Prepared,
        cursor_id: uuid.UUID,
        next_skip: int,
        link: str | None,
        done: bool,
    ) -> None:
        validation, page = prepared.validation, prepared.page
        landing = PageLanding(
            run_id=self.run_id,
            request=prepared.attempt.request,
            response=prepared.attempt.response,
            silver_path=f"/{self.resource}",
            record_key=self.key,
            items_key=page.items_key,
            records=len(page.records),
            hashes=prepared.hashes,
            valid=prepared.valid,
            validation={
                "schema_name": validation.schema_name,
                "schema_version": validation.schema_version,
                "ok": validation.ok,
                "checked": validation.checked,
                "invalid": len(validation.invalid_keys),
                "errors_sample": validation.errors_sample,
                "drift": validation.drift,
                "fingerprint": validation.fingerprint,
            },
            cursor=CursorAdvance(cursor_id, next_skip, link, "completed" if done else "running"),
            odata_count=page.count,
            waited_s=0.0,
        )
        landing.requests, landing.retries, landing.waited_s = self.client.stats.take()
        async with self.engine.begin() as conn:
            _, self.cancel_seen = await land_page(conn, landing)


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
    client = ResilientClient(
        ClientPolicy.from_row(config), key, engine, transport=transport, coordinate=coordinate
    )
    pager = _Pager(engine, client, template, config, run_id, cancel)
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
    except (ApiError, _Stop) as exc:
        kind = exc.kind
        message = scrub(str(exc), [key])
        if isinstance(exc, _Stop) and kind not in ("parse",):
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


def summary_json(summary: RunSummary) -> str:
    """The summary as one JSON document."""
    return orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2).decode()
