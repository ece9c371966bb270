"""Which field may be a template's replication key — from the vendor's schema or $metadata.

On Clinical Conductor only the list models whose vendor schema has a modification stamp
may sync incrementally (``shared/reference/clinical-conductor-api.md`` §4.2: Study's
``lastUpdatedOn`` is "the only list model with a last-modified stamp"; Patient has none —
"Incremental not supported"). It is not a required field in the vendor's Swagger, so it
may be null. On an OData v4 service the field's Edm type and ``Nullable`` come from
``$metadata``.
"""

from __future__ import annotations

from typing import Any

from .keyset import INCREMENTAL_TYPES, INTEGER_TYPES, Replication
from .resources import resource_name

__all__ = ["MODIFICATION_STAMPS", "ReplicationRefused", "replication_key"]

# Clinical Conductor resource → its modification stamp (nullable: not required in S1)
MODIFICATION_STAMPS = {"studies": "lastUpdatedOn"}
DEFAULT_LOOKBACK_S = 300.0


class ReplicationRefused(ValueError):
    """The field cannot be this template's replication key; the message says why."""


def _field_type(
    dialect: str, resource_path: str, field: str, schema: dict[str, Any] | None
) -> tuple[str, bool]:
    """(Edm type, nullable) of ``field``, or refused."""
    if dialect == "clinical-conductor" and schema is None:
        name = resource_name(resource_path)
        stamp = MODIFICATION_STAMPS.get(name)
        if stamp is None:
            have = ", ".join(f"{r}.{f}" for r, f in MODIFICATION_STAMPS.items())
            raise ReplicationRefused(
                f"{name or resource_path} has no modification timestamp in the vendor's"
                f" schema, so it cannot sync incrementally (only {have} can); sync it in full"
            )
        if field != stamp:
            raise ReplicationRefused(f"{name}'s modification timestamp is {stamp!r}, not {field!r}")
        return "Edm.DateTimeOffset", True
    properties = dict((schema or {}).get("properties") or {})
    if field not in properties:
        known = (
            ", ".join(sorted(n for n, t in properties.items() if t in INCREMENTAL_TYPES)) or "none"
        )
        raise ReplicationRefused(
            f"{field!r} is no property of this entity set (date, timestamp or integer"
            f" properties: {known})"
        )
    edm = str(properties[field])
    if edm not in INCREMENTAL_TYPES:
        raise ReplicationRefused(
            f"{field!r} is {edm}; a replication key is an Edm.DateTimeOffset, Edm.Date or"
            " integer property"
        )
    return edm, field in set((schema or {}).get("nullable") or ())


def replication_key(
    *,
    dialect: str,
    resource_path: str,
    schema: dict[str, Any] | None,
    field: str,
    lookback_s: float | None,
    include_nulls: bool,
) -> Replication:
    """The replication key of a template, or ``ReplicationRefused`` saying why not."""
    edm, nullable = _field_type(dialect, resource_path, field.strip(), schema)
    if nullable and not include_nulls:
        raise ReplicationRefused(
            f"{field!r} may be null, and a row whose {field} is null is never newer than a"
            " watermark; add --include-nulls to read those rows in full each run"
        )
    if edm in INTEGER_TYPES:
        if lookback_s:
            raise ReplicationRefused(
                "--lookback is a time; an integer replication key starts again after its last value"
            )
        lookback_s = 0.0
    elif lookback_s is None:
        lookback_s = DEFAULT_LOOKBACK_S
    return Replication(field.strip(), edm, float(lookback_s), include_nulls)
