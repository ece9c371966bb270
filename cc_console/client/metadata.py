"""Asking an OData v4 service what it holds: ``$metadata`` (entity sets, keys, types) and
``<set>/$count`` — through the resilient client, so every request is logged like a sync's."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import SyncError, UsageError
from ..odata.csdl import EntitySet, MetadataError, parse_metadata
from ..odata.envelope import EnvelopeError, parse_page
from ..store.audit_log import insert_response
from ..store.configs import ConfigRow
from .http import Attempt, ClientPolicy, ResilientClient
from .secrets import resolve_secret

__all__ = ["entity_set_name", "fetch_counts", "fetch_entity_sets", "fetch_page_counts"]


def entity_set_name(resource_path: str) -> str:
    """``/Orders`` → ``Orders``: an OData resource path names its entity set."""
    return resource_path.strip("/").split("/")[-1]


async def _get(client: ResilientClient, engine: AsyncEngine, url: str, path: str) -> Attempt:
    attempt = await client.get(url, endpoint_path=path)
    async with engine.begin() as conn:  # the answer goes to the audit trail too
        await insert_response(conn, attempt.request, attempt.response)
    return attempt


def _client(engine: AsyncEngine, config: ConfigRow) -> ResilientClient:
    return ResilientClient(
        ClientPolicy.from_config(config), resolve_secret(config.secret_ref), engine
    )


async def fetch_entity_sets(engine: AsyncEngine, config: ConfigRow) -> dict[str, EntitySet]:
    """The service's entity sets from its ``$metadata``; one-line errors for what fails."""
    client = _client(engine, config)
    try:
        attempt = await _get(client, engine, f"{config.base_url}/$metadata", "/$metadata")
    except SyncError as exc:
        raise UsageError(
            f"cannot read {config.base_url}/$metadata: {exc.kind}: {exc.message}"
        ) from None
    finally:
        await client.aclose()
    try:
        return parse_metadata(attempt.response.body)
    except MetadataError as exc:
        raise UsageError(f"{config.base_url}/$metadata: {exc}") from None


async def fetch_counts(
    engine: AsyncEngine, config: ConfigRow, names: list[str]
) -> dict[str, int | None]:
    """``GET <set>/$count`` for each set (None where the service does not answer a number)."""
    client = _client(engine, config)
    counts: dict[str, int | None] = {}
    try:
        for name in names:
            try:
                attempt = await _get(
                    client, engine, f"{config.base_url}/{name}/$count", f"/{name}/$count"
                )
                counts[name] = int(attempt.response.body.decode("utf-8").strip())
            except (SyncError, ValueError, UnicodeDecodeError):
                counts[name] = None
    finally:
        await client.aclose()
    return counts


async def fetch_page_counts(
    engine: AsyncEngine, config: ConfigRow, resources: list[str]
) -> dict[str, int | None]:
    """``GET /<resource>/odata?$top=1&$count=true`` for each Clinical Conductor resource: the
    count its PageResult carries (None for the bare-array ones, which carry none)."""
    client = _client(engine, config)
    counts: dict[str, int | None] = {}
    try:
        for name in resources:
            url = f"{config.base_url}/{name}/odata?$top=1&$count=true"
            try:
                attempt = await _get(client, engine, url, f"/{name}/odata")
                counts[name] = parse_page(attempt.response.body).count
            except (SyncError, EnvelopeError):
                counts[name] = None
    finally:
        await client.aclose()
    return counts
