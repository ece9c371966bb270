"""engine: silver lineage, run cancel flag, shared pacing slot, uncompressed page bodies

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
    op.add_column(
        "cc_sync_run", sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Page bodies (~600 KB) are stored uncompressed: pglz made each page insert 18 ms instead
    # of 8 ms on the reference machine, for 2.9x the disk. Retention bounds the disk.
    op.execute("ALTER TABLE cc_api_response_log ALTER COLUMN body SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE cc_api_response_log ALTER COLUMN body_text SET STORAGE EXTERNAL")
    op.create_check_constraint(
        op.f("ck_cc_silver_record_response_ref_complete"),
        "cc_silver_record",
        "(last_response_id IS NULL) = (last_response_sent_at IS NULL)",
    )


def downgrade() -> None:
    op.execute("ALTER TABLE cc_api_response_log ALTER COLUMN body SET STORAGE EXTENDED")
    op.execute("ALTER TABLE cc_api_response_log ALTER COLUMN body_text SET STORAGE EXTENDED")
    op.drop_constraint(
        op.f("ck_cc_silver_record_response_ref_complete"), "cc_silver_record", type_="check"
    )
    op.drop_column("cc_sync_run", "cancel_requested_at")
    op.drop_column("cc_silver_record", "valid")
    op.drop_column("cc_silver_record", "last_response_sent_at")
    op.drop_column("cc_silver_record", "last_response_id")
    op.drop_column("cc_rate_limit_state", "next_request_at")
