"""One typed page out of any of the three envelopes the API may answer with.

- OData v4: ``{"@odata.context", "@odata.count", "value", "@odata.nextLink"}`` (also the
  prefix-less ``@count`` / ``@nextLink`` of OData 4.01);
- PageResult: ``{items, nextPageLink, count}`` with keys matched case-insensitively
  (``Items``/``NextPageLink``/``Count`` in the vendor's Swagger);
- a bare JSON array (studies, patients, sites on real tenants).
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

__all__ = ["EnvelopeError", "Page", "page_from_data", "parse_page"]


class EnvelopeError(ValueError):
    """The body is not JSON of a known envelope shape."""


class Page(BaseModel):
    """Records of one response plus the paging metadata the server sent."""

    model_config = ConfigDict(frozen=True)

    shape: Literal["odata", "pageresult", "array"]
    records: list[dict[str, Any]]
    count: int | None = None
    next_link: str | None = None
    context: str | None = None
    items_key: str | None = None  # where the records sit in the body (None: the body itself)
    body: Any = Field(default=None, repr=False)  # the decoded body the page was read from


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)

    count: StrictInt | None = None
    next_link: StrictStr | None = None
    context: StrictStr | None = None


_ODATA_KEYS = {
    "value": "records",
    "@odata.count": "count",
    "@count": "count",
    "@odata.nextlink": "next_link",
    "@nextlink": "next_link",
    "@odata.context": "context",
    "@context": "context",
}
_PAGERESULT_KEYS = {"items": "records", "count": "count", "nextpagelink": "next_link"}


def parse_page(body: bytes | str) -> Page:
    """Parse a response body; :class:`EnvelopeError` says why it is not a page."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"body is not JSON: {exc}") from None
    return page_from_data(data)


def page_from_data(data: Any) -> Page:
    """The page in an already-decoded JSON body (see :func:`parse_page`)."""
    if isinstance(data, list):
        return _build("array", {"records": data}, None, data)
    if not isinstance(data, dict):
        raise EnvelopeError(f"body is a JSON {type(data).__name__}, not a page")
    lowered = {key.lower(): key for key in data}
    shape: Literal["odata", "pageresult"]
    if "value" in lowered:
        table, shape = _ODATA_KEYS, "odata"
    elif "items" in lowered:
        table, shape = _PAGERESULT_KEYS, "pageresult"
    else:
        keys = ", ".join(sorted(data)[:5]) or "none"
        raise EnvelopeError(f"unknown envelope (keys: {keys})")
    fields: dict[str, Any] = {}
    items_key = None
    for lower, original in lowered.items():
        target = table.get(lower)
        if target:
            fields[target] = data[original]
            if target == "records":
                items_key = original
    return _build(shape, fields, items_key, data)


def _build(
    shape: Literal["odata", "pageresult", "array"],
    fields: dict[str, Any],
    items_key: str | None,
    body: Any,
) -> Page:
    records = fields.pop("records", None)
    # checked by hand: a strict pydantic list[dict] would copy every record of the page
    if not isinstance(records, list):
        raise EnvelopeError(f"{shape} envelope: records: not a list")
    if not all(map(isinstance, records, repeat(dict))):  # C-speed: pages are big
        raise EnvelopeError(f"{shape} envelope: records: every record must be an object")
    try:
        checked = _Strict(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EnvelopeError(f"{shape} envelope: {where}: {first['msg']}") from None
    return Page.model_construct(
        shape=shape,
        items_key=items_key,
        records=records,
        count=checked.count,
        next_link=checked.next_link,
        context=checked.context,
        body=body,
    )
