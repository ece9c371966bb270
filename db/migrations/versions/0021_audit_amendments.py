"""Audit amendments: a chained row changed on purpose, by whom and why, under the seal key

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04

``db scrub`` masks secrets that reached the log in clear — after a header is added to a
config's masked headers, say. Changing a chained row breaks its link, so ``audit verify``
would name a lawful masking as tampering for ever after. Each such change is now recorded in
``cc_audit_amendment``: the row, its digest as chained, before and after the change, the
reason and the operator action that asked for it, signed with an HMAC-SHA-256 under the
seal key (never in the database), so verify proves the row as first written and says it was
amended, and a forged amendment is refused like an edited row. The auditor reads them in
``cc_audit_redacted.audit_amendment`` (digests and reasons only: nothing to redact).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cc_audit_amendment",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("log", sa.String(length=10), nullable=False),
        sa.Column("row_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chain_id", sa.Uuid(), nullable=False),
        sa.Column("chain_seq", sa.BigInteger(), nullable=False),
        sa.Column("chained_digest", sa.LargeBinary(), nullable=False),
        sa.Column("before_digest", sa.LargeBinary(), nullable=False),
        sa.Column("after_digest", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("action_id", sa.Uuid(), nullable=True),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("seal", sa.LargeBinary(), nullable=False),
        sa.Column(
            "amended_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "log IN ('request', 'response')", name=op.f("ck_cc_audit_amendment_log_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_audit_amendment")),
    )
    op.create_index(
        op.f("ix_cc_audit_amendment_row_id_sent_at"),
        "cc_audit_amendment",
        ["row_id", "sent_at"],
    )
    op.create_index(op.f("ix_cc_audit_amendment_chain_id"), "cc_audit_amendment", ["chain_id"])
    bind = op.get_bind()
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    bind.exec_driver_sql(
        "CREATE VIEW cc_audit_redacted.audit_amendment AS SELECT a.* FROM "
        + '"'
        + schema.replace('"', '""')
        + '".cc_audit_amendment a'
    )


def downgrade() -> None:
    op.execute("DROP VIEW cc_audit_redacted.audit_amendment")
    op.drop_table("cc_audit_amendment")
