"""Seeding configs, templates and Silver rows straight into a test database (no sync)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import Engine, text

from cc_console.odata import canonical_params, filter_hash, params_hash
from cc_console.odata.csdl import parse_metadata
from cc_console.odata.resources import RESOURCE_SCHEMAS
from cc_console.sim.odata4.model import csdl

LANDED = "2026-01-05T10:00:00Z"  # a fixed clock: nothing here reads today's date


def add_config(engine: Engine, name: str, dialect: str = "clinical-conductor") -> uuid.UUID:
    with engine.begin() as conn:
        config_id: uuid.UUID = conn.execute(
            text(
                "INSERT INTO cc_api_client_config (name, base_url, secret_ref, dialect,"
                " created_by, updated_by) VALUES (:n, 'https://example.test/api', 'env:CC_X',"
                " :d, 't', 't') RETURNING id"
            ),
            {"n": name, "d": dialect},
        ).scalar_one()
    return config_id


def add_template(
    engine: Engine,
    config_id: uuid.UUID,
    path: str,
    key: list[str] | None = None,
    schema: dict[str, Any] | None = None,
) -> None:
    params = canonical_params({})
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cc_odata_query_template (config_id, resource_path, params,"
                " params_hash, filter_hash, record_key, record_schema, created_by, updated_by)"
                " VALUES (:c, :p, CAST(:params AS jsonb), :ph, :fh, CAST(:k AS jsonb),"
                " CAST(:s AS jsonb), 't', 't')"
            ),
            {
                "c": config_id,
                "p": path,
                "params": json.dumps(params),
                "ph": params_hash(params),
                "fh": filter_hash(params),
                "k": None if key is None else json.dumps(key),
                "s": None if schema is None else json.dumps(schema),
            },
        )


def cc_tenant(engine: Engine, name: str = "tenant") -> uuid.UUID:
    """A Clinical Conductor config with a template per built-in resource."""
    config_id = add_config(engine, name)
    for resource in RESOURCE_SCHEMAS:
        add_template(engine, config_id, f"/{resource}/odata")
    return config_id


def odata_service(engine: Engine, name: str = "acc") -> uuid.UUID:
    """An OData v4 config with a template per entity set of the simulator's $metadata."""
    config_id = add_config(engine, name, "odata4")
    for set_name, entity_set in parse_metadata(csdl().encode()).items():
        add_template(engine, config_id, f"/{set_name}", list(entity_set.key), entity_set.schema())
    return config_id


def land(
    engine: Engine,
    config_id: uuid.UUID,
    path: str,
    records: list[dict[str, Any]],
    key: str,
    deleted: set[str] = frozenset(),  # type: ignore[assignment]
) -> None:
    """Upsert ``records`` into Silver as the landing would (keyed by ``key``)."""
    with engine.begin() as conn:
        for record in records:
            payload = json.dumps(record)
            conn.execute(
                text(
                    "INSERT INTO cc_silver_record (config_id, resource_path, record_key, payload,"
                    " payload_hash, first_seen_at, last_seen_at, deleted_at)"
                    " VALUES (:c, :p, :k, CAST(:payload AS jsonb), :h, :t, :t,"
                    " CASE WHEN :gone THEN CAST(:t AS timestamptz) END)"
                    " ON CONFLICT (config_id, resource_path, record_key) DO UPDATE SET"
                    " payload = EXCLUDED.payload, payload_hash = EXCLUDED.payload_hash"
                ),
                {
                    "c": config_id,
                    "p": path,
                    "k": str(record[key]),
                    "payload": payload,
                    "h": hashlib.sha256(payload.encode()).hexdigest(),
                    "t": LANDED,
                    "gone": str(record[key]) in deleted,
                },
            )
