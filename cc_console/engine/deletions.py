"""Deletions, detected at the end of a full refresh whose cursor completed.

Keyset paging reads every row that exists for the whole run once at least, so when the
distinct keys the chain saw equal the server's count now, every Silver row of the scope not
seen is gone from the server. Otherwise (rows came and went meanwhile, or the server gives
no count) the unseen rows are asked for one by one, within a bound — ``Set(key)`` on OData,
the vendor's item route (``/studies/{id}``) on Clinical Conductor — after a control request
for a row known to exist: 404 is deleted; anything else marks nothing. Nothing is marked on
a guess.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import ApiError
from ..odata.keyset import value_literal
from ..odata.query import encode_query
from ..store.audit_log import insert_response
from ..store.deletions import (
    forget_seen,
    mark_deleted,
    seen_count,
    seen_sample,
    unseen_rows,
)
from .pager import Pager

__all__ = ["CHECK_BOUND", "Deletions", "detect_deletions", "item_url"]

CHECK_BOUND = 100  # unseen rows asked for one by one, at most


@dataclass(frozen=True)
class Deletions:
    """What the detection marked, and why it marked nothing when it could not be sure."""

    marked: int
    note: str | None = None


def item_url(pager: Pager, payload: dict[str, Any]) -> str:
    """The URL of one record by its key: ``Set(key)`` (OData), ``/resource/{id}`` (CC)."""
    base, path, key = pager.config.base_url, pager.template.resource_path, pager.key
    if pager.config.dialect == "clinical-conductor":
        collection = path[: -len("/odata")] if path.endswith("/odata") else path
        return f"{base}{collection}/{quote(str(payload[key[0]]), safe='')}"
    types = pager.key_types
    literals = [value_literal(payload.get(name), types.get(name)) for name in key]
    inside = (
        literals[0]
        if len(key) == 1
        else ",".join(f"{name}={lit}" for name, lit in zip(key, literals, strict=True))
    )
    return f"{base}{path}({quote(inside, safe=chr(39) + '(),=:-._~')})"


async def _keep(pager: Pager, attempt: Any) -> None:
    async with pager.engine.begin() as conn:
        await insert_response(conn, attempt.request, attempt.response)


async def _server_count(pager: Pager) -> int | None:
    """The server's count of the scope now (None: it gives none)."""
    query = encode_query({"$top": 0, "$count": "true"})
    prepared = await pager.fetcher.prepare(
        f"{pager.config.base_url}{pager.template.resource_path}?{query}"
    )
    await _keep(pager, prepared.attempt)
    return prepared.page.count


async def _status(pager: Pager, payload: dict[str, Any]) -> int:
    try:
        attempt = await pager.client.get(
            item_url(pager, payload),
            endpoint_path=pager.template.resource_path,
            run_id=pager.run_id,
            template_id=pager.template.id,
        )
    except ApiError as exc:
        return exc.status_code or 0
    await _keep(pager, attempt)
    return attempt.response.status_code


async def detect_deletions(pager: Pager, chain_run_id: uuid.UUID) -> Deletions:
    """Mark what the chain proved deleted; its seen-key set is dropped after."""
    config_id, path = pager.config.id, f"/{pager.resource}"
    engine, run_id = pager.engine, pager.run_id
    try:
        count = await _server_count(pager)
        async with engine.connect() as conn:
            seen = await seen_count(conn, chain_run_id)
            missing = await unseen_rows(conn, config_id, path, chain_run_id, CHECK_BOUND + 1)
            sample = await seen_sample(conn, config_id, path, chain_run_id)
        if count is not None and seen == count:
            async with engine.begin() as conn:
                return Deletions(await mark_deleted(conn, config_id, path, chain_run_id, run_id))
        why = f"the server counts {count:,}" if count is not None else "the server gives no count"
        why += f" and {seen:,} keys were seen"
        gone: list[str] = []
        note = None
        if len(missing) > CHECK_BOUND:
            note = (
                f"deletions: {why}; more than {CHECK_BOUND} unseen rows to check one by one —"
                " none marked (run another full refresh when the data is quiet)"
            )
        elif missing and (sample is None or await _status(pager, sample) != 200):
            note = (
                f"deletions: {why}; the server did not answer a request for a row known to"
                " exist — none marked"
            )
        else:
            for key, payload in missing:
                status = await _status(pager, payload)
                if status == 404:
                    gone.append(key)
                elif status != 200:
                    note = f"deletions: asking for {key} answered {status}; the rest unchecked"
                    break
        async with engine.begin() as conn:
            marked = await mark_deleted(conn, config_id, path, chain_run_id, run_id, gone)
        return Deletions(marked, note)
    finally:
        async with engine.begin() as conn:
            await forget_seen(conn, chain_run_id)
