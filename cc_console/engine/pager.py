"""The paging loop of one run: fetch ahead, land each page atomically, follow the mode.

What comes after a page — our own ``$skip`` request, a server's next link, or the end — is
``paging.Paging``'s decision; this loop fetches the next page while the current one lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.http import ResilientClient
from ..errors import ApiError, ErrorKind, StopRun
from ..odata.keys import Key
from ..odata.keyset import (
    Position,
    Replication,
    keyset_filter,
    ordered,
    position_of,
    replication_orderby,
    zone_of,
)
from ..odata.links import origin_of
from ..odata.query import encode_query, stable_orderby
from ..odata.resources import resource_name
from ..store import audit_chain
from ..store.audit_log import keep_response, response_exists
from ..store.canonical_body import canonical_body_digest
from ..store.configs import ConfigRow
from ..store.cursors import Lease, LostCursor
from ..store.landing import CursorAdvance, Landed, PageLanding, land_page
from ..store.runs import cancel_requested
from ..store.templates import TemplateRow
from .control import stop_of
from .fetch import PageFetcher, PreparedPage, selected_schema
from .paging import Paging

__all__ = ["Pager", "RestartCursor"]

# a stored next link the server no longer knows (an expired skiptoken)
_EXPIRED_LINK_STATUSES = (400, 404, 410)


class RestartCursor(Exception):  # noqa: N818 - a signal, not an error
    """The stored next link is gone: the caller restarts the cursor and pages again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        params = dict(template.params)
        self.top = int(params.pop("$top", config.default_page_size))
        self.orderby = stable_orderby(params.pop("$orderby", None), key)
        params.pop("$skip", None)
        params.pop("$count", None)
        self.params = params
        self.paging = Paging(template.paging, self.top, origin_of(config.base_url))
        # keyset paging: where the run stands (w, k) and where it started (w − lookback)
        self.replication = Replication.of(template.incremental)
        self.position: Position | None = None
        self.lower: str | None = None
        self.mode = "full"  # full, incremental or full_refresh (set where the run starts)
        # a full refresh detecting deletions: the resume chain whose seen keys it records
        self.seen_chain: uuid.UUID | None = None
        self.key_types: dict[str, str] = dict(
            (template.record_schema or {}).get("properties") or {}
        )
        self.zone = zone_of(config.server_timezone)  # of stamps sent without an offset
        if self.replication is not None:
            self.orderby = replication_orderby(self.replication, key)
            self.paging.keyset = True
        self.fetcher = PageFetcher(
            engine=engine,
            client=client,
            config_id=config.id,
            run_id=run_id,
            template_id=template.id,
            resource_path=template.resource_path,
            resource=self.resource,
            key=key,
            builtin_schema=config.dialect == "clinical-conductor",
            edm_schema=selected_schema(template.record_schema, template.params.get("$select")),
            parse_retries=config.parse_retries,
        )
        self.pages = 0
        self.landed = 0  # records this run landed, and rejected (no key), so far
        self.rejected = 0
        self.cancel_seen = False
        self.outage = client.outage  # one budget per outage for the run's database work

    @property
    def shape(self) -> dict[str, object]:
        """What a cursor's position depends on: a change restarts the cursor."""
        return {
            "orderby": self.orderby,
            "top": None if self.template.paging == "server" else self.top,
            "paging": self.template.paging,
            "select": self.params.get("$select"),
            "keyset": None if self.replication is None else self.replication.field,
        }

    def keyset_state(self) -> dict[str, object] | None:
        """What the cursor keeps of the keyset: the field, the run's lower bound and the
        position (``k`` None: nothing landed yet this run)."""
        if self.replication is None:
            return None
        at = self.position
        return {
            "field": self.replication.field,
            "mode": self.mode,
            "seen_chain": None if self.seen_chain is None else str(self.seen_chain),
            "lower": self.lower,
            "w": None if at is None else at.w,
            "k": None if at is None else list(at.k),
        }

    def _watermark(self) -> dict[str, object] | None:
        """The position a completed run leaves for the next one: {field, w, k}."""
        if self.replication is None or self.position is None:
            return None
        return self.position.as_dict(self.replication.field)

    def keyset_predicate(self) -> str | None:
        """What our next own request asks for, after the template's filter."""
        if self.replication is None:
            return None
        return keyset_filter(
            self.replication, self.key, self.key_types, self.position, self.lower, self.zone
        )

    def url(self, skip: int, first: bool) -> str:
        """Our own request for the page at ``skip`` (no $top or $skip when server-paged)."""
        server = self.template.paging == "server"
        query = {
            **self.params,
            "$orderby": self.orderby,
            "$top": None if server else self.top,
            "$skip": None if server else skip,
            "$count": "true" if first else None,
        }
        if self.replication is not None:
            query["$skip"] = None
            predicate = self.keyset_predicate()
            if predicate is not None:
                own = self.params.get("$filter")
                query["$filter"] = f"({own}) and {predicate}" if own else predicate
            # query options in the order OData servers echo them: the filter first
            query = {"$filter": query.pop("$filter", None), **query}
        return f"{self.config.base_url}{self.template.resource_path}?{encode_query(query)}"

    async def cancelled(self) -> bool:
        """Cancel asked in-process, or in the database (seen by the last landing)."""
        if self.cancel is not None and self.cancel.is_set():
            return True
        if self.pages:
            return self.cancel_seen
        return await cancel_requested(self.engine, self.run_id)

    def _fetch(self, url: str, own: bool) -> asyncio.Future[PreparedPage]:
        self.paging.fetched(url, own)
        return asyncio.ensure_future(self.fetcher.prepare(url))

    async def run(self, lease: Lease, skip: int, next_link: str | None) -> None:
        """Page until done. The next page is fetched while the current one lands."""
        if await self.cancelled():
            raise stop_of(self.cancel)
        resuming = (
            next_link is not None and self.template.paging != "skip" and self.replication is None
        )
        own = not resuming
        # a resumed keyset run counts only what is left: the cursor keeps the first count
        counted = self.replication is None or self.position is None
        url = next_link if resuming and next_link else self.url(skip, first=counted)
        if resuming:
            self.paging.resuming_from_link()
        pending: asyncio.Future[PreparedPage] | None = self._fetch(url, own)
        try:
            while pending is not None:
                try:
                    prepared = await pending
                except ApiError as exc:
                    if resuming and exc.status_code in _EXPIRED_LINK_STATUSES:
                        raise RestartCursor(
                            f"the stored next link was refused ({exc.status_code}): its"
                            " skiptoken expired; the cursor starts again from the beginning"
                        ) from None
                    raise
                resuming = False
                pending = None
                page = prepared.page
                step = self.paging.after(
                    request_url=prepared.url,
                    skip=skip,
                    served=len(page.records),
                    link=page.next_link,
                    context=page.context,
                    count=page.count,
                )
                follow_up = step.stop
                moved = self._advance_keyset(page.records)
                if follow_up is None and moved is not None:
                    follow_up = moved
                if not step.done and follow_up is None:
                    if await self.cancelled():
                        follow_up = stop_of(self.cancel)
                    else:
                        own = step.next_url is None
                        url = step.next_url or self.url(step.next_skip, first=False)
                        pending = self._fetch(url, own)
                # land this page first, then stop: a refused link is not kept, a resume
                # continues with $skip paging instead
                await self._land(prepared, lease, step.next_skip, step.keep_link, step.done)
                self.pages += 1
                if follow_up is not None:
                    raise follow_up
                skip = step.next_skip
        finally:
            # a page fetched ahead and never landed keeps its request row without a response
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    def _advance_keyset(self, records: list[dict[str, object]]) -> StopRun | None:
        """Move the keyset position to the page's last record; a page that does not move
        it, or comes out of order, ends the run (it would loop, or skip rows)."""
        if self.replication is None or not records:
            return None
        rep, key = self.replication, self.key
        found = [p for p in (position_of(r, rep, key) for r in records) if p is not None]
        order = replication_orderby(rep, key)
        if not ordered(found, rep, self.zone):
            return StopRun(
                ErrorKind.KEYSET_STALLED,
                f"the server did not order the page by {order}: keyset paging would skip"
                " rows; the run stops (the page landed)",
            )
        at = self.position
        if not found or (
            at is not None and (found[0] == at or not ordered([at, found[0]], rep, self.zone))
        ):
            return StopRun(
                ErrorKind.KEYSET_STALLED,
                f"a page did not move the keyset position past {self._at()} ({order}): the"
                " server ignores the filter, or no record has a usable key; the run stops",
            )
        self.position = found[-1]
        return None

    def _at(self) -> str:
        at = self.position
        return "the start" if at is None else f"({at.w!r}, {', '.join(map(repr, at.k))})"

    async def _land(
        self,
        prepared: PreparedPage,
        lease: Lease,
        next_skip: int,
        link: str | None,
        done: bool,
    ) -> None:
        page = prepared.page
        requests, retries, waited = self.client.stats.take()
        response = prepared.attempt.response
        if audit_chain.enabled:
            # the engine digests the body it decoded (canonical_body.py); here, not when the
            # page was fetched, and after one turn of the loop: the next page's fetch has
            # sent its request row then, and the digest fills the wait for the database
            await asyncio.sleep(0)
            digest = canonical_body_digest(page.body)
            response = replace(response, body_digest=digest)
        landing = PageLanding(
            config_id=self.config.id,
            run_id=self.run_id,
            request=prepared.attempt.request,
            response=response,
            silver_path=f"/{self.resource}",
            record_key=self.key,
            items_key=page.items_key,
            records=len(page.records),
            batch=prepared.batch,
            validation=prepared.validation,
            cursor=CursorAdvance(
                lease,
                next_skip,
                link,
                "completed" if done else "running",
                keyset=self.keyset_state(),
                watermark=self._watermark() if done else None,
            ),
            odata_count=page.count,
            waited_s=waited,
            requests=requests,
            retries=retries,
            seen_chain=self.seen_chain,
        )
        tries = 0

        async def write() -> Landed | None:
            nonlocal tries
            tries += 1
            async with self.engine.begin() as conn:
                if tries > 1 and await response_exists(conn, landing.request):
                    return None  # the try before committed; the connection died after
                return await land_page(conn, landing)

        try:
            landed = await self.outage.run(write, "landing a page")
        except LostCursor:
            # the page rolled back whole; its response stays in the audit trail, unlanded
            async def keep() -> None:
                async with self.engine.begin() as conn:
                    await keep_response(conn, landing.request, landing.response)

            await self.outage.run(keep, "writing a response")
            raise
        if landed is None:
            self.landed += prepared.batch.keyed
            self.rejected += prepared.batch.rejected
            return
        self.cancel_seen = landed.cancel_requested
        self.landed += landed.landed
        self.rejected += landed.rejected
