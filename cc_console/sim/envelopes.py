"""How a page goes on the wire: PageResult, bare array or OData v4, in either casing."""

from __future__ import annotations

import re
import zlib
from datetime import datetime, timedelta
from typing import Any

import orjson

from .config import SimConfig

__all__ = [
    "VENDOR_ARRAY_RESOURCES",
    "envelope_kind",
    "page_bytes",
    "shape_page",
    "served_stamps",
    "shape_record",
    "timestamp_shape",
]

VENDOR_ARRAY_RESOURCES = {"studies", "patients", "sites"}
# where the vendor Swagger shows PascalCase preview objects (reference §5.3)
_PASCAL_PREVIEWS = {"arm", "subject", "organization"}
_NAIVE_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


def envelope_kind(config: SimConfig, resource: str) -> str:
    """``pageresult``, ``array`` or ``odata`` for this resource."""
    if config.envelope == "vendor":
        return "array" if resource in VENDOR_ARRAY_RESOURCES else "pageresult"
    return config.envelope


def _stamp(value: str, shape: str) -> str:
    """A naive whole-minute timestamp (read as UTC) in the tenant's shape, the same instant."""
    if shape == "utc":
        return value + "Z"
    if shape == "fraction":  # .NET's seven digits, derived from the value: stable per record
        return f"{value}.{zlib.crc32(value.encode()) % 10_000_000:07d}"
    if shape == "offset":
        local = datetime.fromisoformat(value) - timedelta(hours=5)
        return local.isoformat() + "-05:00"
    return value


def _stamps(value: Any, shape: str) -> Any:
    if isinstance(value, str) and _NAIVE_STAMP.match(value):
        return _stamp(value, shape)
    if isinstance(value, dict):
        return {k: _stamps(v, shape) for k, v in value.items()}
    if isinstance(value, list):
        return [_stamps(v, shape) for v in value]
    return value


def timestamp_shape(config: SimConfig) -> str:
    """How this tenant writes timestamps."""
    return "utc" if config.date_suffix_z else config.timestamps


def served_stamps(record: dict[str, Any], config: SimConfig) -> dict[str, Any]:
    """The record's timestamps as the tenant serves them (what its ``$filter`` compares:
    a server compares the values it stores, fractions and offsets included)."""
    shape = timestamp_shape(config)
    return record if shape == "minutes" else dict(_stamps(record, shape))


def shape_record(record: dict[str, Any], config: SimConfig, select: list[str]) -> dict[str, Any]:
    """The record as served: selected fields, Swagger casing, ``Z`` on timestamps if asked."""
    shaped = {k: record[k] for k in select if k in record} if select else record
    if config.casing == "swagger":
        shaped = {
            k: (
                {key[:1].upper() + key[1:]: v for key, v in value.items()}
                if k in _PASCAL_PREVIEWS and isinstance(value, dict)
                else value
            )
            for k, value in shaped.items()
        }
    shape = timestamp_shape(config)
    if shape != "minutes":
        shaped = _stamps(shaped, shape)
    return shaped


_SLOT = "\u0000records\u0000"
_SLOT_JSON = b'"\\u0000records\\u0000"'


def page_bytes(
    kind: str,
    config: SimConfig,
    records: list[dict[str, Any]] | list[bytes],
    *,
    count: int | None,
    next_link: str | None,
    context: str,
) -> bytes:
    """The serialised body; records given as bytes are spliced in without re-encoding."""
    dicts = [r for r in records if isinstance(r, dict)]
    if len(dicts) == len(records):
        return orjson.dumps(
            shape_page(kind, config, dicts, count=count, next_link=next_link, context=context)
        )
    joined = b"[" + b",".join(r for r in records if isinstance(r, bytes)) + b"]"
    if kind == "array":
        return joined
    envelope = orjson.dumps(
        shape_page(kind, config, _SLOT, count=count, next_link=next_link, context=context)
    )
    return envelope.replace(_SLOT_JSON, joined, 1)


def shape_page(
    kind: str,
    config: SimConfig,
    records: list[dict[str, Any]] | str,  # a placeholder string, for page_bytes to replace
    *,
    count: int | None,
    next_link: str | None,
    context: str,
) -> Any:
    """The response body of one page."""
    if kind == "array":
        return records
    if kind == "odata":
        body: dict[str, Any] = {"@odata.context": context}
        if count is not None:
            body["@odata.count"] = count
        body["value"] = records
        if next_link:
            body["@odata.nextLink"] = next_link
        return body
    if config.casing == "swagger":
        return {"Items": records, "NextPageLink": next_link, "Count": count}
    return {"items": records, "nextPageLink": next_link, "count": count}
