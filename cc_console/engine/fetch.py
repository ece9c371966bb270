"""Fetching one page and making it ready to land: GET, parse, validate, key and hash.

A complete body that is no JSON of a known envelope is fetched again, up to the config's
``parse_retries`` (a gateway fault often passes), each attempt's body kept in the response
log with its ``parse`` event; only then does the run stop on ``parse``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ..client.http import Attempt, ResilientClient
from ..errors import ErrorKind, StopRun
from ..odata.envelope import EnvelopeError, Page, parse_page
from ..odata.keys import Key
from ..odata.resources import Validation, validate_records
from ..store.audit_log import write_failure
from ..store.silver import SilverBatch, silver_rows

__all__ = ["PageFetcher", "PreparedPage"]


@dataclass(frozen=True)
class PreparedPage:
    """A fetched page, parsed and validated, with its Silver hashes: ready to land."""

    url: str
    attempt: Attempt
    page: Page
    validation: Validation
    batch: SilverBatch


def selected_schema(schema: dict[str, Any] | None, select: str | None) -> dict[str, Any] | None:
    """The part of a ``$metadata`` schema a ``$select`` asks for (so the rest is no drift)."""
    if schema is None or not select:
        return schema
    wanted = {name.strip() for name in select.split(",")}
    properties = {k: v for k, v in schema.get("properties", {}).items() if k in wanted}
    return {**schema, "properties": properties}


@dataclass
class PageFetcher:
    """Fetches and prepares the pages of one run."""

    engine: AsyncEngine
    client: ResilientClient
    config_id: uuid.UUID
    run_id: uuid.UUID
    template_id: uuid.UUID
    resource_path: str
    resource: str
    key: Key
    builtin_schema: bool
    edm_schema: dict[str, Any] | None
    parse_retries: int

    async def prepare(self, url: str) -> PreparedPage:
        """Fetch ``url`` (retrying unparseable bodies), parse, validate, key and hash it."""
        tries = 0
        while True:
            attempt = await self.client.get(
                url,
                endpoint_path=self.resource_path,
                run_id=self.run_id,
                template_id=self.template_id,
            )
            try:
                page = parse_page(attempt.response.body)
                break
            except EnvelopeError as exc:
                again = tries < self.parse_retries
                await self._unparseable(attempt, exc, again)
                if not again:
                    raise StopRun(ErrorKind.PARSE, f"unparseable page: {exc}") from None
                tries += 1
                self.client.stats.retries += 1  # the same page, asked again
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
        # a relative next link resolves against where the page came from (after redirects)
        return PreparedPage(
            attempt.url, replace(attempt, response=response), page, validation, batch
        )

    async def _unparseable(self, attempt: Attempt, exc: EnvelopeError, again: bool) -> None:
        response = attempt.response
        await write_failure(
            self.engine,
            request=attempt.request,
            response=replace(response, parse_ok=False),
            kind=ErrorKind.PARSE,
            retryable=again,
            message=str(exc)[:500] + (" (fetched again)" if again else ""),
            status_code=response.status_code,
            endpoint_path=self.resource_path,
            config_id=self.config_id,
            run_id=self.run_id,
            detail={"content_type": response.content_type},
        )
