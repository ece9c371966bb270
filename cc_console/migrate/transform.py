"""One legacy API call → the rows of the new audit trail (pure: no I/O).

Ids are UUIDv5 of the call's content (client, method, time, URL, status, body digest), so a
second backfill — or a second copy of the same call in the legacy table — lands nowhere new.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..client.errors import classify_status
from ..client.masking import ALWAYS_MASKED, mask_headers
from ..odata import filter_hash
from ..odata.envelope import EnvelopeError, page_from_data

__all__ = ["LEGACY_NS", "Call", "content_id", "transform"]

LEGACY_NS = uuid.UUID("6f1c1f0e-5b1a-4c8e-9a57-cc0c0750e001")


@dataclass
class Call:
    """The new rows for one legacy call."""

    request: dict[str, Any]
    response: dict[str, Any] | None
    error: dict[str, Any] | None
    run_key: tuple[str, str, str, str]  # client, day, endpoint, filter hash
    keys_scrubbed: int = 0
    sequence: dict[str, Any] = field(default_factory=dict)


def content_id(row: Any) -> uuid.UUID:
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
    return uuid.uuid5(LEGACY_NS, key)


def _headers(raw: str | None) -> tuple[dict[str, Any], int]:
    """Masked headers and how many secret values were found unmasked."""
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {"x-legacy-unparsed-headers": "(not JSON; dropped)"}, 0
    if not isinstance(parsed, dict):
        return {}, 0
    pairs = [(str(k), str(v)) for k, v in parsed.items()]
    raw_keys = sum(1 for k, v in pairs if k.lower() in ALWAYS_MASKED and not v.startswith("***"))
    return mask_headers(pairs), raw_keys


def _endpoint(path: str, base_path: str) -> str:
    return path[len(base_path) :] if base_path and path.startswith(base_path) else path


def transform(row: Any, *, config_id: uuid.UUID, base_path: str) -> Call:
    """Map one ``api_call_log`` row; ``called_at`` is read as UTC."""
    request_id = content_id(row)
    sent_at = row.called_at.replace(tzinfo=UTC) if row.called_at.tzinfo is None else row.called_at
    split = urlsplit(row.url)
    params = dict(parse_qsl(split.query, keep_blank_values=True))
    endpoint = _endpoint(split.path, base_path.rstrip("/"))
    fh = filter_hash(params)
    headers, raw_keys = _headers(row.request_headers)
    request = {
        "id": str(request_id),
        "sent_at": sent_at.isoformat(),
        "config_id": str(config_id),
        "method": row.method.upper(),
        "url": row.url,
        "endpoint_path": endpoint,
        "query_params": params,
        "headers": headers,
        "attempt_no": 1,
    }
    run_key = (row.client_name, sent_at.date().isoformat(), endpoint, fh)
    call = Call(request, None, None, run_key, raw_keys)
    if row.response_status is None:
        return call
    response_headers, more_keys = _headers(row.response_headers)
    call.keys_scrubbed += more_keys
    body_json: Any = None
    parse_ok, count, items, next_link = False, None, 0, False
    text = row.response_body
    try:
        body_json = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        body_json = None
    if body_json is not None and row.response_status == 200:
        try:
            page = page_from_data(body_json)
            parse_ok, count, items = True, page.count, len(page.records)
            next_link = page.next_link is not None
        except EnvelopeError:
            parse_ok = False
    call.response = {
        "id": str(uuid.uuid5(LEGACY_NS, f"response:{request_id}")),
        "sent_at": request["sent_at"],
        "request_id": str(request_id),
        "status_code": row.response_status,
        "headers": response_headers,
        "body": body_json,
        "body_text": None if body_json is not None else text,
        "size_bytes": len((text or "").encode()),
        "elapsed_ms": float(row.duration_ms or 0),
        "parse_ok": parse_ok,
        "odata_count": count,
        "has_next_link": next_link,
        "received_at": sent_at.isoformat()
        if not row.duration_ms
        else datetime.fromtimestamp(sent_at.timestamp() + row.duration_ms / 1000, UTC).isoformat(),
    }
    if row.response_status >= 400:
        kind, retryable = classify_status(row.response_status)
        call.error = {
            "id": str(uuid.uuid5(LEGACY_NS, f"error:{request_id}")),
            "occurred_at": request["sent_at"],
            "kind": kind,
            "retryable": retryable,
            "status_code": row.response_status,
            "endpoint_path": endpoint,
            "message": f"legacy call answered {row.response_status}",
            "config_id": str(config_id),
            "request_id": str(request_id),
            "request_sent_at": request["sent_at"],
        }
    if parse_ok:
        call.sequence = {
            "endpoint": endpoint,
            "filter_hash": fh,
            "filter": params.get("$filter"),
            "skip": int(params.get("$skip", "0") or 0),
            "top": int(params.get("$top", "100") or 100),
            "items": items,
            "count": count,
            "at": sent_at,
        }
    return call
