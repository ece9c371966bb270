"""Keyset paging over a replication key — pure: the order, the predicates, the positions.

An incremental template orders by ``FIELD asc, <key> asc`` (OData sorts nulls first when
ascending) and asks each page for what comes after the last landed record (w, k)::

    (FIELD gt w or (FIELD eq w and <key> gt k))

A row modified while a run pages moves behind the position and is read later in the same
run; ``$skip`` would shift every row behind it by one and skip one for good. w is the
server's own literal text, never reformatted — a server may send seven fractional digits,
and ``FIELD eq w`` must match the tie group exactly — except that a timestamp without an
offset gets the server's zone. Only the lower bound of a new run (w − lookback) is
computed, rounded down to whole seconds (or days).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .keys import Key, key_values
from .query import literal

__all__ = [
    "INCREMENTAL_TYPES",
    "Position",
    "Replication",
    "keyset_filter",
    "lower_bound",
    "next_ask",
    "ordered",
    "position_of",
    "replication_orderby",
    "value_literal",
    "zone_of",
]

INTEGER_TYPES = ("Edm.Byte", "Edm.SByte", "Edm.Int16", "Edm.Int32", "Edm.Int64")
INCREMENTAL_TYPES = ("Edm.DateTimeOffset", "Edm.Date", *INTEGER_TYPES)
_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class Replication:
    """A template's replication key: the field, its Edm type, how far back a new run
    re-reads, and whether rows without a value are read too (each run, in full)."""

    field: str
    edm: str
    lookback_s: float = 0.0
    include_nulls: bool = False

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> Replication | None:
        """The template column's value (None: a full-sync template)."""
        if not stored:
            return None
        return cls(
            str(stored["field"]),
            str(stored["edm"]),
            float(stored.get("lookback_s") or 0),
            bool(stored.get("include_nulls")),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "edm": self.edm,
            "lookback_s": self.lookback_s,
            "include_nulls": self.include_nulls,
        }


@dataclass(frozen=True)
class Position:
    """The (w, k) of a landed record: its replication value as the server sent it (None in
    the null group) and its key's values."""

    w: Any
    k: tuple[Any, ...]

    def as_dict(self, field: str) -> dict[str, Any]:
        return {"field": field, "w": self.w, "k": list(self.k)}

    @classmethod
    def of(cls, stored: dict[str, Any] | None, field: str) -> Position | None:
        """A stored position of this field; None when there is none — no record landed
        yet (``k`` empty), or it is one of another field."""
        if not stored or stored.get("field") != field or not stored.get("k"):
            return None
        return cls(stored.get("w"), tuple(stored["k"]))


def zone_of(name: str) -> tzinfo:
    """A server time zone: ``UTC``, a fixed offset ``+05:30`` / ``-05:00``, or an IANA name
    (``America/New_York``); ValueError otherwise."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    fixed = re.fullmatch(r"([+-])(\d{2}):(\d{2})", name)
    if fixed:
        sign = -1 if fixed[1] == "-" else 1
        minutes = int(fixed[2]) * 60 + int(fixed[3])
        if minutes >= 24 * 60:
            raise ValueError(f"{name!r}: an offset is under 24:00")
        return timezone(sign * timedelta(minutes=minutes))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is no time zone: UTC, an offset like -05:00, or an IANA name"
            " like America/New_York"
        ) from None


def replication_orderby(replication: Replication, key: Key) -> str:
    """``FIELD asc,<key> asc`` — the one total order keyset paging relies on."""
    return ",".join([f"{replication.field} asc", *(f"{name} asc" for name in key)])


def _timestamp(text: str, zone: tzinfo) -> datetime:
    # seven fractional digits (.NET) are more than fromisoformat keeps: cut to six
    cut = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text.replace("z", "Z"), count=1)
    moment = datetime.fromisoformat(cut.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def value_literal(value: Any, edm: str | None, zone: tzinfo = UTC) -> str:
    """A record's value as the literal of its Edm type; a timestamp keeps the server's own
    text (an offset is added when it has none: the server's zone)."""
    if value is None:
        return "null"
    if edm == "Edm.DateTimeOffset" and isinstance(value, str):
        if _OFFSET.search(value):
            return value
        moment = _timestamp(value, zone)
        offset = moment.strftime("%z")
        suffix = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
        return value + suffix
    if edm in ("Edm.Date", "Edm.Guid") and isinstance(value, str):
        return value  # both are bare literals, as the server wrote them
    if edm in INTEGER_TYPES and isinstance(value, str) and value.lstrip("-").isdigit():
        return value  # an Int64 some servers send as a string (IEEE754Compatible)
    return literal(value)


def lower_bound(w: Any, replication: Replication, zone: tzinfo = UTC) -> str | None:
    """The literal a new run starts from: w − lookback, rounded down (None: from the
    beginning)."""
    if w is None:
        return None
    edm, back = replication.edm, replication.lookback_s
    if edm == "Edm.DateTimeOffset":
        moment = _timestamp(str(w), zone) - timedelta(seconds=back)
        moment = moment.astimezone(UTC).replace(microsecond=0)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if edm == "Edm.Date":
        day = date.fromisoformat(str(w)) - timedelta(days=math.ceil(back / 86400))
        return day.isoformat()
    return str(int(w) - math.ceil(back))


def _key_after(key: Key, k: tuple[Any, ...], types: dict[str, str]) -> str:
    """``<key> gt k`` for a composite key, lexicographically."""
    name, rest = key[0], key[1:]
    here = value_literal(k[0], types.get(name))
    if not rest:
        return f"{name} gt {here}"
    return f"({name} gt {here} or ({name} eq {here} and {_key_after(rest, k[1:], types)}))"


def keyset_filter(
    replication: Replication,
    key: Key,
    key_types: dict[str, str],
    position: Position | None,
    lower: str | None,
    zone: tzinfo = UTC,
) -> str | None:
    """What a page asks for after ``position`` (None: the run's first page, from ``lower``
    or, without one, from the beginning); None when that is everything."""
    field = replication.field
    if position is None:
        if lower is None:
            return None
        bound = f"{field} ge {lower}"
        return f"({field} eq null or {bound})" if replication.include_nulls else bound
    after_key = _key_after(key, position.k, key_types)
    if position.w is None:  # within the null group, which sorts first
        rest = f"{field} ge {lower}" if lower is not None else f"{field} ne null"
        return f"(({field} eq null and {after_key}) or {rest})"
    w = value_literal(position.w, replication.edm, zone)
    return f"({field} gt {w} or ({field} eq {w} and {after_key}))"


def next_ask(
    replication: Replication,
    key: Key,
    key_types: dict[str, str],
    watermark: dict[str, Any] | None,
    zone: tzinfo = UTC,
) -> str:
    """What a new run of the template asks for, after its filter, given the watermark."""
    mark = Position.of(watermark, replication.field)
    lower = None if mark is None else lower_bound(mark.w, replication, zone)
    return keyset_filter(replication, key, key_types, None, lower, zone) or "everything"


def position_of(record: dict[str, Any], replication: Replication, key: Key) -> Position | None:
    """The record's (w, k); None when its key is unusable."""
    values = key_values(record, key)
    return None if values is None else Position(record.get(replication.field), values)


def _sortable(position: Position, replication: Replication, zone: tzinfo) -> tuple[Any, ...]:
    w = position.w
    if w is not None and replication.edm == "Edm.DateTimeOffset":
        w = _timestamp(str(w), zone)
    elif w is not None and replication.edm in INTEGER_TYPES:
        w = int(w)
    return (w is not None, w if w is not None else 0, *position.k)


def ordered(positions: list[Position], replication: Replication, zone: tzinfo = UTC) -> bool:
    """Whether the positions come in the keyset order (as far as they can be compared)."""
    try:
        keys = [_sortable(p, replication, zone) for p in positions]
        return all(a <= b for a, b in zip(keys, keys[1:], strict=False))
    except (TypeError, ValueError):
        return True  # values this side cannot compare: the server's order is trusted
