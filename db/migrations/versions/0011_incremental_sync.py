"""incremental sync: a replication key per template, keyset positions and watermarks

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

- ``cc_odata_query_template.incremental`` (jsonb, NULL: full sync): the replication key —
  ``{"field", "edm", "lookback_s", "include_nulls"}``; such a template pages by keyset.
- ``cc_pagination_state.keyset`` (jsonb): the (w, k) of the last landed page —
  ``{"field", "w", "k"}``, w the server's literal text (NULL inside the null group), k the
  key's values; written in the landing transaction, where a resume continues.
- ``cc_pagination_state.watermark`` (jsonb): the keyset of the last page of the last run
  whose cursor completed; the next run starts from w − lookback.
- ``cc_sync_run.sync_mode``: full, incremental or full_refresh; ``keyset_from``: what the
  run asked for first (the predicate after the template's filter).
- deletions (a full refresh with ``--detect-deletes``): ``cc_silver_record.deleted_at`` and
  ``deleted_run_id`` (a soft delete, cleared when the record reappears),
  ``cc_sync_run.records_deleted``, and ``cc_run_seen_key`` — the keys a resume chain saw.
- ``cc_api_client_config.server_timezone`` (default UTC): the zone a timestamp sent without
  an offset is read in.
- error kind ``keyset_stalled``: a page that did not move the keyset position (or came
  unordered) ends an incremental run instead of looping.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_KINDS_BEFORE = (
    "'timeout', 'connect', 'reset', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504',"
    " 'http_400', 'http_401', 'http_403', 'http_404', 'http_409', 'http_501', 'http_other',"
    " 'parse', 'validation', 'foreign_next_link', 'secret_unavailable', 'interrupted',"
    " 'cancelled', 'db', 'legacy_write', 'truncated', 'bad_next_link', 'next_link_loop',"
    " 'foreign_redirect', 'too_many_redirects', 'cursor_restarted', 'lost_cursor', 'internal'"
)


def _error_kinds(kinds: str) -> None:
    op.execute(
        "ALTER TABLE cc_error_event DROP CONSTRAINT ck_cc_error_event_kind_known,"
        f" ADD CONSTRAINT ck_cc_error_event_kind_known CHECK (kind IN ({kinds}))"
    )


def upgrade() -> None:
    _error_kinds(_KINDS_BEFORE + ", 'keyset_stalled'")
    op.add_column(
        "cc_odata_query_template",
        sa.Column("incremental", postgresql.JSONB(none_as_null=True), nullable=True),
    )
    op.add_column(
        "cc_api_client_config",
        sa.Column("server_timezone", sa.String(length=64), server_default="UTC", nullable=False),
    )
    op.add_column(
        "cc_pagination_state",
        sa.Column("keyset", postgresql.JSONB(none_as_null=True), nullable=True),
    )
    op.add_column(
        "cc_pagination_state",
        sa.Column("watermark", postgresql.JSONB(none_as_null=True), nullable=True),
    )
    op.add_column(
        "cc_sync_run",
        sa.Column("sync_mode", sa.String(length=20), server_default="full", nullable=False),
    )
    op.add_column("cc_sync_run", sa.Column("keyset_from", sa.Text(), nullable=True))
    op.add_column(
        "cc_silver_record", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("cc_silver_record", sa.Column("deleted_run_id", sa.Uuid(), nullable=True))
    op.add_column("cc_sync_run", sa.Column("records_deleted", sa.BigInteger(), nullable=True))
    op.create_table(
        "cc_run_seen_key",
        sa.Column("chain_run_id", sa.Uuid(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("chain_run_id", "record_key", name=op.f("pk_cc_run_seen_key")),
    )
    op.create_check_constraint(
        op.f("ck_cc_sync_run_sync_mode_known"),
        "cc_sync_run",
        "sync_mode IN ('full', 'incremental', 'full_refresh')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM cc_error_event WHERE kind = 'keyset_stalled'")
    _error_kinds(_KINDS_BEFORE)
    op.drop_constraint(op.f("ck_cc_sync_run_sync_mode_known"), "cc_sync_run", type_="check")
    op.drop_table("cc_run_seen_key")
    op.drop_column("cc_sync_run", "records_deleted")
    op.drop_column("cc_silver_record", "deleted_run_id")
    op.drop_column("cc_silver_record", "deleted_at")
    op.drop_column("cc_sync_run", "keyset_from")
    op.drop_column("cc_sync_run", "sync_mode")
    op.drop_column("cc_pagination_state", "watermark")
    op.drop_column("cc_pagination_state", "keyset")
    op.drop_column("cc_odata_query_template", "incremental")
    op.drop_column("cc_api_client_config", "server_timezone")
