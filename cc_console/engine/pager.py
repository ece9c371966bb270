"""The paging loop of one run: fetch ahead, parse, validate, land each page atomically."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.http import Attempt, ResilientClient
from ..errors import ErrorKind, StopRun
from ..odata.envelope import EnvelopeError, Page, parse_page
from ..odata.keys import Key
from ..odata.query import encode_query, stable_orderby
from ..odata.resources import Validation, resource_name, validate_records
from ..store.audit_log import write_failure
from ..store.configs import ConfigRow
from ..store.landing import CursorAdvance, PageLanding, land_page
from ..store.runs import cancel_requested
from ..store.silver import SilverBatch, silver_rows
from ..store.templates import TemplateRow

__all__ = ["Pager"]


@dataclass(frozen=True)
class PreparedPage:
    """A fetched page, parsed and validated, with its Silver hashes: ready to land."""

    attempt: Attempt
    page: Page
    validation: Validation
    batch: SilverBatch


def _selected(schema: dict[str, Any] | None, select: str | None) -> dict[str, Any] | None:
    """The part of a ``$metadata`` schema a ``$select`` asks for (so the rest is no drift)."""
    if schema is None or not select:
        return schema
    wanted = {name.strip() for name in select.split(",")}
    properties = {k: v for k, v in schema.get("properties", {}).items() if k in wanted}
    return {**schema, "properties": properties}


def _same_origin(link: str, base_url: str) -> bool:
    a, b = urlsplit(link), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class Pager:
    """The paging loop of one run."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: ResilientClient,
        template: TemplateRow,
        config: ConfigRow,
        run_id: uuid.UUID,
        cancel: asyncio.Event | None,
        key: Key,
    ) -> None:
        self.engine = engine
        self.client = client
        self.template = template
        self.config = config
        self.run_id = run_id
        self.cancel = cancel
        self.resource = resource_name(template.resource_path)
        self.key = key
        self.builtin_schema = config.dialect == "clinical-conductor"
        self.edm_schema = _selected(template.record_schema, template.params.get("$select"))
        params = dict(template.params)
        self.top = int(params.pop("$top", config.default_page_size))
        self.orderby = stable_orderby(params.pop("$orderby", None), key)
        params.pop("$skip", None)
        params.pop("$count", None)
        self.params = params
        self.pages = 0
        self.landed = 0  # records this run landed, and rejected (no key), so far
        self.rejected = 0
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
        return f"{self.config.base_url}{self.template.resource_path}?{encode_query(query)}"

    async def cancelled(self) -> bool:
        """Cancel asked in-process, or in the database (seen by the last landing)."""
        if self.cancel is not None and self.cancel.is_set():
            return True
        if self.pages:
            return self.cancel_seen
        return await cancel_requested(self.engine, self.run_id)

    def _next_url(self, skip: int, link: str | None, first: bool) -> tuple[str, bool]:
        """The URL of the next page and whether it is our own ($skip) request."""
        if link:
            if not _same_origin(link, self.config.base_url):
                where = urlsplit(link)
                raise StopRun(
                    ErrorKind.FOREIGN_NEXT_LINK,
                    f"refused a next link to another host: {where.scheme}://{where.netloc}",
                )
            return link, False
        return self.url(skip, first), True

    def _fetch(self, url: str) -> asyncio.Future[PreparedPage]:
        return asyncio.ensure_future(self._fetch_and_prepare(url))

    async def _fetch_and_prepare(self, url: str) -> PreparedPage:
        """Fetch, parse and validate one page: CPU work that overlaps the previous landing."""
        attempt = await self.client.get(
            url,
            endpoint_path=self.template.resource_path,
            run_id=self.run_id,
            template_id=self.template.id,
        )
        page = await self._parse(attempt)
        validation = validate_records(
            self.resource,
            page.records,
            key=self.key,
            builtin=self.builtin_schema,
            edm_schema=self.edm_schema,
        )
        response = replace(
            attempt.response,
            parse_ok=True,
            is_json=True,
            odata_count=page.count,
            has_next_link=page.next_link is not None,
            validation_errors=None if validation.ok else validation.errors_sample,
        )
        batch = silver_rows(page.records, self.key, set(validation.invalid_keys))
        return PreparedPage(replace(attempt, response=response), page, validation, batch)

    async def run(self, cursor_id: uuid.UUID, skip: int, next_link: str | None) -> None:
        """Page until done. The next page is fetched while the current one lands."""
        if await self.cancelled():
            raise StopRun(ErrorKind.CANCELLED, "cancelled by request")
        url, own = self._next_url(skip, next_link, first=True)
        pending: asyncio.Future[PreparedPage] | None = self._fetch(url)
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
                follow_up: StopRun | None = None
                if not done:
                    try:
                        if await self.cancelled():
                            raise StopRun(ErrorKind.CANCELLED, "cancelled by request")
                        url, own = self._next_url(skip + served, link, first=False)
                        pending = self._fetch(url)
                    except StopRun as stop:
                        follow_up = stop  # land this page first, then stop
                # a refused link is not kept: a resume continues with $skip paging instead
                refused = follow_up and follow_up.kind is ErrorKind.FOREIGN_NEXT_LINK
                keep = None if refused else link
                await self._land(prepared, cursor_id, skip + served, keep, done)
                self.pages += 1
                if follow_up is not None:
                    raise follow_up
                skip += served
        finally:
            # a page fetched ahead and never landed keeps its request row without a response
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    async def _parse(self, attempt: Attempt) -> Page:
        response = attempt.response
        try:
            return parse_page(response.body)
        except EnvelopeError as exc:
            await write_failure(
                self.engine,
                request=attempt.request,
                response=replace(response, parse_ok=False),
                kind=ErrorKind.PARSE,
                retryable=False,
                message=str(exc)[:500],
                status_code=response.status_code,
                endpoint_path=self.template.resource_path,
                config_id=self.config.id,
                run_id=self.run_id,
                detail={"content_type": response.content_type},
            )
            raise StopRun(ErrorKind.PARSE, f"unparseable page: {exc}") from None

    async def _land(
        self,
        prepared: PreparedPage,
        cursor_id: uuid.UUID,
        next_skip: int,
        link: str | None,
        done: bool,
    ) -> None:
        validation, page = prepared.validation, prepared.page
        requests, retries, waited = self.client.stats.take()
        landing = PageLanding(
            config_id=self.config.id,
            run_id=self.run_id,
            request=prepared.attempt.request,
            response=prepared.attempt.response,
            silver_path=f"/{self.resource}",
            record_key=self.key,
            items_key=page.items_key,
            records=len(page.records),
            batch=prepared.batch,
            validation=validation,
            cursor=CursorAdvance(cursor_id, next_skip, link, "completed" if done else "running"),
            odata_count=page.count,
            waited_s=waited,
            requests=requests,
            retries=retries,
        )
        async with self.engine.begin() as conn:
            landed = await land_page(conn, landing)
        self.cancel_seen = landed.cancel_requested
        self.landed += landed.landed
        self.rejected += landed.rejected
