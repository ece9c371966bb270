"""engine: silver lineage, run cancel flag, shared pacing slot

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cc_rate_limit_state",
        sa.Column("next_request_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("cc_silver_record", sa.Column("last_response_id", sa.Uuid(), nullable=True))
    op.add_column(
        "cc_silver_record",
        sa.Column("last_response_sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "cc_silver_record",
        sa.Column("valid", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    )
    op.create_foreign_key(
        op.f("fk_cc_silver_record_last_response_id_last_response_sent_at_cc_api_response_log"),
        "cc_silver_record",
        "cc_api_response_log",
        ["last_response_id", "last_response_sent_at"],
        ["id", "sent_at"],
    )
    op.add_column(
        "cc_sync_run", sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_cc_silver_record_response_ref_complete"),
        "cc_silver_record",
        "(last_response_id IS NULL) = (last_response_sent_at IS NULL)",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_cc_silver_record_response_ref_complete"), "cc_silver_record", type_="check"
    )
    op.drop_column("cc_sync_run", "cancel_requested_at")
    op.drop_constraint(
        op.f("fk_cc_silver_record_last_response_id_last_response_sent_at_cc_api_response_log"),
        "cc_silver_record",
        type_="foreignkey",
    )
    op.drop_column("cc_silver_record", "valid")
    op.drop_column("cc_silver_record", "last_response_sent_at")
    op.drop_column("cc_silver_record", "last_response_id")
    op.drop_column("cc_rate_limit_state", "next_request_at")
