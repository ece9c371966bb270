"""One legacy API call → one flat row for the backfill's staging table (pure: no I/O).

Ids are UUIDv5 of the call's content (client, method, time, URL, status, body digest), so a
second backfill — or a second copy of the same call in the legacy table — lands nowhere new.
The body is passed on as the legacy text: PostgreSQL casts it to JSONB when it parsed here,
so nothing is decoded and re-encoded on the way.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..client.errors import classify_status
from ..client.masking import ALWAYS_MASKED, mask_headers
from ..odata import filter_hash
from ..odata.envelope import EnvelopeError, page_from_data

__all__ = ["LEGACY_NS", "Call", "as_utc", "content_id", "endpoint_of", "fast_uuid5", "transform"]

LEGACY_NS = uuid.UUID("6f1c1f0e-5b1a-4c8e-9a57-cc0c0750e001")
_NS_BYTES = LEGACY_NS.bytes


def fast_uuid5(name: str) -> str:
    """``str(uuid.uuid5(LEGACY_NS, name))`` without the uuid module's per-call overhead."""
    digest = bytearray(hashlib.sha1(_NS_BYTES + name.encode(), usedforsecurity=False).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(slots=True)
class Call:
    """What the backfill writes for one legacy call (request, maybe response and error)."""

    id: str
    client: str
    sent_at: datetime
    method: str
    url: str
    endpoint: str
    params: dict[str, str]  # shared by every call of the same query: read, never change
    query_json: str
    headers_json: str
    filter_hash: str
    keys_scrubbed: int
    status: int | None = None
    response_headers_json: str | None = None
    body: str | None = None
    body_is_json: bool = False
    parse_ok: bool = False
    odata_count: int | None = None
    items: int = 0
    has_next_link: bool = False
    elapsed_ms: float = 0.0
    error_kind: str | None = None
    retryable: bool | None = None

    @property
    def day(self) -> str:
        return self.sent_at.date().isoformat()

    @property
    def run_key(self) -> tuple[str, str, str, str]:
        """Client, day, endpoint, filter hash: the backfill run this call belongs to."""
        return (self.client, self.day, self.endpoint, self.filter_hash)


def content_id(row: Any) -> str:
    """The deterministic id of a legacy call (equal for its duplicates)."""
    digest = hashlib.md5((row.response_body or "").encode(), usedforsecurity=False).hexdigest()
    key = "|".join(
        [
            row.client_name,
            row.method,
            row.called_at.isoformat(),
            row.url,
            str(row.response_status),
            digest,
        ]
    )
    return fast_uuid5(key)


@lru_cache(maxsize=2048)
def _headers(raw: str | None, masked: frozenset[str] = frozenset()) -> tuple[str, int]:
    """Masked headers as JSON text and how many secret values were found unmasked.

    ``masked``: lower-cased names masked beyond :data:`ALWAYS_MASKED` (the config's own auth
    header and its extra masked headers). Cached: one client sends the same headers call
    after call (same key, same Accept).
    """
    try:
        parsed = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return '{"x-legacy-unparsed-headers": "(not JSON; dropped)"}', 0
    if not isinstance(parsed, dict):
        return "{}", 0
    pairs = [(str(k), str(v)) for k, v in parsed.items()]
    secret = ALWAYS_MASKED | masked
    raw_keys = sum(1 for k, v in pairs if k.lower() in secret and not v.startswith("***"))
    return orjson.dumps(mask_headers(pairs, masked)).decode(), raw_keys


@lru_cache(maxsize=4096)
def _query(query: str) -> tuple[dict[str, str], str, str]:
    """A query string's params, as JSON and their filter hash (paging URLs repeat a lot)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    return params, orjson.dumps(params).decode(), filter_hash(params)


@lru_cache(maxsize=1024)
def _endpoint(path: str, base_path: str) -> str:
    return path[len(base_path) :] if base_path and path.startswith(base_path) else path


def endpoint_of(url: str, base_path: str) -> str:
    """The endpoint path of a legacy URL (the config's base path taken off)."""
    return _endpoint(urlsplit(url).path, base_path.rstrip("/"))


def as_utc(called_at: datetime) -> datetime:
    """A legacy timestamp; a naive one is UTC (what the legacy client wrote)."""
    return called_at.replace(tzinfo=UTC) if called_at.tzinfo is None else called_at


_classify = lru_cache(maxsize=64)(classify_status)


_NOT_JSON = (False, False, None, 0, False)
_NOT_A_PAGE = (True, False, None, 0, False)


def _page_shape(text: str | None, status: int) -> tuple[bool, bool, int | None, int, bool]:
    """(body is JSON, parse_ok, odata count, records, next link): the engine's envelope rules."""
    if not text or "\\u0000" in text:  # PostgreSQL's jsonb refuses NUL escapes: keep as text
        return _NOT_JSON
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT_JSON
    if data is None:
        return _NOT_JSON
    if status != 200:
        return _NOT_A_PAGE
    try:
        page = page_from_data(data)
    except EnvelopeError:
        return _NOT_A_PAGE
    return True, True, page.count, len(page.records), page.next_link is not None


def transform(row: Any, *, base_path: str, masked: frozenset[str] = frozenset()) -> Call:
    """Map one ``api_call_log`` row; a naive ``called_at`` is read as UTC.

    ``masked``: header names masked beyond the always-masked ones, lower-cased.
    """
    sent_at = as_utc(row.called_at)
    split = urlsplit(row.url)
    params, query_json, fh = _query(split.query)
    headers_json, raw_keys = _headers(row.request_headers, masked)
    call = Call(
        id=content_id(row),
        client=row.client_name,
        sent_at=sent_at,
        method=row.method.upper(),
        url=row.url,
        endpoint=_endpoint(split.path, base_path.rstrip("/")),
        params=params,
        query_json=query_json,
        headers_json=headers_json,
        filter_hash=fh,
        keys_scrubbed=raw_keys,
    )
    status = row.response_status
    if status is None:
        return call
    call.status = status
    call.response_headers_json, more_keys = _headers(row.response_headers, masked)
    call.keys_scrubbed += more_keys
    call.body = row.response_body
    shape = _page_shape(row.response_body, status)
    call.body_is_json, call.parse_ok, call.odata_count, call.items, call.has_next_link = shape
    call.elapsed_ms = float(row.duration_ms or 0)
    if status >= 400:
        call.error_kind, call.retryable = _classify(status)
    return call
