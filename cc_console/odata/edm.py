"""Checking records against the Edm types ``$metadata`` declared (JSON Format's representations).

Numbers: Int16/32/64, Byte, SByte are JSON integers; Decimal, Double, Single are numbers —
Int64 and Decimal may come as strings (``IEEE754Compatible=true``), Double/Single also as
``"NaN"``, ``"INF"``, ``"-INF"``. Date, DateTimeOffset, TimeOfDay, Duration and Guid are
strings of their shape. A property declared ``Nullable="false"`` may not be null.
Complex, enumeration and navigation types are not checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["edm_problem"]

_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_DATE = re.compile(r"^-?\d{4,}-\d{2}-\d{2}$")
_DATETIMEOFFSET = re.compile(
    r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
_DURATION = re.compile(r"^-?P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shaped(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and pattern.match(v) is not None


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "Edm.Int16": _is_int,
    "Edm.Int32": _is_int,
    "Edm.Byte": _is_int,
    "Edm.SByte": _is_int,
    "Edm.Int64": lambda v: _is_int(v) or _shaped(_INTEGER)(v),
    "Edm.Decimal": lambda v: _is_number(v) or _shaped(_DECIMAL)(v),
    "Edm.Double": lambda v: _is_number(v) or v in ("NaN", "INF", "-INF"),
    "Edm.Single": lambda v: _is_number(v) or v in ("NaN", "INF", "-INF"),
    "Edm.String": lambda v: isinstance(v, str),
    "Edm.Boolean": lambda v: isinstance(v, bool),
    "Edm.Date": _shaped(_DATE),
    "Edm.DateTimeOffset": _shaped(_DATETIMEOFFSET),
    "Edm.TimeOfDay": _shaped(_TIME),
    "Edm.Duration": _shaped(_DURATION),
    "Edm.Guid": _shaped(_GUID),
}


def edm_problem(value: Any, edm_type: str, nullable: bool) -> str | None:
    """Why ``value`` is no ``edm_type`` (``type`` or ``null``), or None when it is fine."""
    if value is None:
        return None if nullable else "null"
    if edm_type.startswith("Collection("):
        return None if isinstance(value, list) else "type"
    check = _CHECKS.get(edm_type)
    if check is None:  # complex, enum, navigation: not checked here
        return None
    return None if check(value) else "type"
