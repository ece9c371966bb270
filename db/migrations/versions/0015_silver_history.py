"""Silver change history and typed views refreshed after syncs, opt-in per template

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03

- ``cc_odata_query_template.keep_history`` (default false; ``template add --history``): keep
  the versions its resource's Silver rows are replaced by.
- ``cc_odata_query_template.refresh_views`` (default false; ``template add --views``): after
  each successful run, refresh the typed views of its resource (``silver views``).
- ``cc_silver_history``: one row per replaced version of a Silver row — its payload, when it
  landed (``valid_from``: the row's ``last_seen_at`` then) and when it was replaced
  (``valid_to``), the run and response that wrote it and those that replaced it. Like
  Silver's own lineage, the links are no declared foreign keys (retention clears them).
- ``cc_silver_path(resource_path)``: a template's Silver resource (``/studies/3/subjects/odata``
  → ``/subjects``), as ``odata.resources.resource_name`` gives it.
- the trigger ``cc_silver_record_history``: after an update of a Silver row whose payload
  changed (the landing's upsert), when a template of that config and resource keeps
  history, the version it replaced goes into ``cc_silver_history``. Updates that keep the
  payload (soft deletes, retention clearing links) write nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SILVER_PATH = r"""
CREATE FUNCTION cc_silver_path(resource_path text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT '/' || COALESCE((regexp_match(
        regexp_replace(resource_path, '(/+odata)?/*$', '', 'i'), '([^/]+)$'))[1], '')
$$
"""

KEEP_HISTORY = """
CREATE FUNCTION cc_silver_keep_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM cc_odata_query_template t
               WHERE t.config_id = NEW.config_id AND t.keep_history
                 AND cc_silver_path(t.resource_path) = NEW.resource_path) THEN
        INSERT INTO cc_silver_history (config_id, resource_path, record_key, payload,
            payload_hash, valid_from, valid_to, run_id, response_id, response_sent_at,
            replaced_by_run_id, replaced_by_response_id, replaced_by_response_sent_at)
        VALUES (OLD.config_id, OLD.resource_path, OLD.record_key, OLD.payload,
            OLD.payload_hash, OLD.last_seen_at, NEW.last_seen_at, OLD.last_run_id,
            OLD.last_response_id, OLD.last_response_sent_at, NEW.last_run_id,
            NEW.last_response_id, NEW.last_response_sent_at);
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGER = """
CREATE TRIGGER cc_silver_record_history AFTER UPDATE ON cc_silver_record
FOR EACH ROW WHEN (OLD.payload_hash IS DISTINCT FROM NEW.payload_hash)
EXECUTE FUNCTION cc_silver_keep_history()
"""


def upgrade() -> None:
    op.add_column(
        "cc_odata_query_template",
        sa.Column("keep_history", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "cc_odata_query_template",
        sa.Column("refresh_views", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.create_table(
        "cc_silver_history",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("response_id", sa.Uuid(), nullable=True),
        sa.Column("response_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaced_by_run_id", sa.Uuid(), nullable=True),
        sa.Column("replaced_by_response_id", sa.Uuid(), nullable=True),
        sa.Column("replaced_by_response_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_silver_history")),
    )
    op.create_index(
        "ix_cc_silver_history_record",
        "cc_silver_history",
        ["config_id", "resource_path", "record_key", "valid_to"],
    )
    op.execute(SILVER_PATH)
    op.execute(KEEP_HISTORY)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER cc_silver_record_history ON cc_silver_record")
    op.execute("DROP FUNCTION cc_silver_keep_history()")
    op.execute("DROP FUNCTION cc_silver_path(text)")
    op.drop_index("ix_cc_silver_history_record", table_name="cc_silver_history")
    op.drop_table("cc_silver_history")
    op.drop_column("cc_odata_query_template", "refresh_views")
    op.drop_column("cc_odata_query_template", "keep_history")
