"""``cc_schema_validation``: one row per validated response — ok, counts, errors, drift.

Written with its page (``RECORD``, one CTE of the landing statement, see ``landing.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ..odata.resources import Validation
from .rows import fetch_dicts

__all__ = ["RECORD", "record_params", "validation_view"]

RECORD = """
    validation AS (
        INSERT INTO cc_schema_validation (response_id, response_sent_at, run_id, resource_path,
            schema_name, schema_version, ok, records_checked, records_invalid, errors_sample,
            drift, shape_fingerprint)
        SELECT :rid, :sent, :run, :path, :name, :version, :ok, :checked, :invalid,
            CAST(:errors AS jsonb), CAST(:drift AS jsonb), :fingerprint
        WHERE CAST(:validate AS boolean)
    )
"""


def record_params(validation: Validation | None) -> dict[str, Any]:
    """The parameters of ``RECORD`` (nothing is written for ``None``)."""
    if validation is None:
        return dict.fromkeys(("name", "version", "errors", "drift", "fingerprint"), None) | {
            "validate": False,
            "ok": True,
            "checked": 0,
            "invalid": 0,
        }
    return {
        "validate": True,
        "name": validation.schema_name,
        "version": validation.schema_version,
        "ok": validation.ok,
        "checked": validation.checked,
        "invalid": validation.invalid,
        "errors": orjson.dumps(validation.errors_sample).decode(),
        "drift": orjson.dumps(validation.drift).decode() if validation.drift else None,
        "fingerprint": validation.fingerprint,
    }


# -- the console's display rows (plain dicts: its tables are keyed by column name) ---------
_VALIDATION = text(
    """
    SELECT schema_name, schema_version, ok, records_checked, records_invalid, errors_sample,
           drift, shape_fingerprint, checked_at
    FROM cc_schema_validation WHERE response_id = :rid AND response_sent_at = :sent
    """
)


async def validation_view(
    conn: AsyncConnection, response_id: uuid.UUID, sent_at: datetime
) -> dict[str, Any] | None:
    """The validation of one response, or None."""
    found = await fetch_dicts(conn, _VALIDATION, rid=response_id, sent=sent_at)
    return found[0] if found else None
