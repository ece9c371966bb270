"""real OData services: dialects, record keys, true record counters, Silver per tenant

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

- ``cc_api_client_config.dialect``: ``clinical-conductor`` (the vendor's API: its eight
  built-in resource schemas apply), ``odata4`` (keys and types from ``$metadata``) or
  ``generic``. Configs that exist are Clinical Conductor configs (the default): nothing that
  worked breaks.
- ``cc_odata_query_template.record_key`` (the key properties, in order: composite keys
  allowed) and ``record_schema`` (property → Edm type, from ``$metadata``).
- ``cc_sync_run``: what landed, not only what was fetched — ``records`` stays the records
  fetched; ``records_landed`` = inserted + updated + unchanged; ``records_rejected`` (no key);
  ``chain_records_landed``, the cursor's landed count since its last restart when the run
  ended (reconciliation covers the whole resume chain). Runs from before this revision keep
  ``records_landed = records`` with an unknown split (NULL) and no chain count.
- ``cc_pagination_state.records_rejected``.
- ``cc_silver_record`` is keyed by (config_id, resource_path, record_key): two tenants never
  touch each other's rows. Each row belongs to the config of the run that last wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SPLIT = ("records_inserted", "records_updated", "records_unchanged")


def upgrade() -> None:
    op.add_column(
        "cc_api_client_config",
        sa.Column("dialect", sa.String(30), server_default="clinical-conductor", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_cc_api_client_config_dialect_known"),
        "cc_api_client_config",
        "dialect IN ('clinical-conductor', 'odata4', 'generic')",
    )

    op.add_column("cc_odata_query_template", sa.Column("record_key", postgresql.JSONB()))
    op.add_column("cc_odata_query_template", sa.Column("record_schema", postgresql.JSONB()))
    op.create_check_constraint(
        op.f("ck_cc_odata_query_template_record_key_names"),
        "cc_odata_query_template",
        "record_key IS NULL OR (jsonb_typeof(record_key) = 'array'"
        " AND jsonb_array_length(record_key) > 0)",
    )

    for name in ("records_landed", "records_rejected", *_SPLIT):
        always_known = name in ("records_landed", "records_rejected")
        op.add_column(
            "cc_sync_run",
            sa.Column(
                name, sa.BigInteger(), server_default=sa.text("0"), nullable=not always_known
            ),
        )
    op.add_column("cc_sync_run", sa.Column("chain_records_landed", sa.BigInteger()))
    op.execute(
        "UPDATE cc_sync_run SET records_landed = records, records_inserted = NULL,"
        " records_updated = NULL, records_unchanged = NULL"
    )
    op.create_check_constraint(
        op.f("ck_cc_sync_run_records_split"),
        "cc_sync_run",
        "records_landed >= 0 AND records_rejected >= 0"
        " AND COALESCE(chain_records_landed, 0) >= 0"
        " AND ((records_inserted IS NULL AND records_updated IS NULL"
        " AND records_unchanged IS NULL) OR (records_inserted >= 0 AND records_updated >= 0"
        " AND records_unchanged >= 0 AND records_landed"
        " = records_inserted + records_updated + records_unchanged))",
    )

    op.add_column(
        "cc_pagination_state",
        sa.Column("records_rejected", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )

    op.add_column("cc_silver_record", sa.Column("config_id", sa.Uuid()))
    op.execute(
        "UPDATE cc_silver_record s SET config_id = COALESCE("
        " (SELECT r.config_id FROM cc_sync_run r WHERE r.id = s.last_run_id),"
        " (SELECT r.config_id FROM cc_sync_run r WHERE r.id = s.first_run_id))"
    )
    # a row no run accounts for cannot be given to a tenant: it goes (the engine never writes one)
    op.execute("DELETE FROM cc_silver_record WHERE config_id IS NULL")
    op.alter_column("cc_silver_record", "config_id", nullable=False)
    op.drop_constraint(op.f("pk_cc_silver_record"), "cc_silver_record", type_="primary")
    op.create_primary_key(
        op.f("pk_cc_silver_record"),
        "cc_silver_record",
        ["config_id", "resource_path", "record_key"],
    )


def downgrade() -> None:
    # two tenants' rows of one resource and key cannot share the old key: keep the newest
    op.execute(
        "DELETE FROM cc_silver_record s USING cc_silver_record t"
        " WHERE s.resource_path = t.resource_path AND s.record_key = t.record_key"
        " AND (s.last_seen_at, s.config_id) < (t.last_seen_at, t.config_id)"
    )
    op.drop_constraint(op.f("pk_cc_silver_record"), "cc_silver_record", type_="primary")
    op.create_primary_key(
        op.f("pk_cc_silver_record"), "cc_silver_record", ["resource_path", "record_key"]
    )
    op.drop_column("cc_silver_record", "config_id")
    op.drop_column("cc_pagination_state", "records_rejected")
    op.drop_constraint(op.f("ck_cc_sync_run_records_split"), "cc_sync_run", type_="check")
    for name in ("chain_records_landed", *_SPLIT, "records_rejected", "records_landed"):
        op.drop_column("cc_sync_run", name)
    op.drop_constraint(
        op.f("ck_cc_odata_query_template_record_key_names"),
        "cc_odata_query_template",
        type_="check",
    )
    op.drop_column("cc_odata_query_template", "record_schema")
    op.drop_column("cc_odata_query_template", "record_key")
    op.drop_constraint(
        op.f("ck_cc_api_client_config_dialect_known"), "cc_api_client_config", type_="check"
    )
    op.drop_column("cc_api_client_config", "dialect")
