"""Audit chains: every log row is linked into its run's hash chain; ended chains are sealed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03

Each request and response row gets ``chain_id`` (its run, or a batch outside runs),
``chain_seq`` (1, 2, …) and ``chain_hash`` = SHA-256(previous link || SHA-256(the row's
canonical encoding)). ``cc_audit_chain`` holds each chain's head while it grows;
``cc_audit_seal`` the heads of each ended chain under an HMAC-SHA-256 whose key never enters
the database, chained per config in the order runs end. Rows written before this migration
have no chain: ``audit verify`` counts them as predating it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOGS = ("cc_api_request_log", "cc_api_response_log")


def upgrade() -> None:
    for table in LOGS:
        op.add_column(table, sa.Column("chain_id", sa.Uuid(), nullable=True))
        op.add_column(table, sa.Column("chain_seq", sa.BigInteger(), nullable=True))
        op.add_column(table, sa.Column("chain_hash", sa.LargeBinary(), nullable=True))
        op.create_index(op.f(f"ix_{table}_chain_id_chain_seq"), table, ["chain_id", "chain_seq"])
    op.create_table(
        "cc_audit_chain",
        sa.Column("chain_id", sa.Uuid(), nullable=False),
        sa.Column("log", sa.String(length=10), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.LargeBinary(), nullable=False),
        sa.Column("last_digest", sa.LargeBinary(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "log IN ('request', 'response')", name=op.f("ck_cc_audit_chain_log_known")
        ),
        sa.CheckConstraint("rows >= 0", name=op.f("ck_cc_audit_chain_rows_non_negative")),
        sa.PrimaryKeyConstraint("chain_id", "log", name=op.f("pk_cc_audit_chain")),
    )
    op.create_table(
        "cc_audit_seal",
        sa.Column("chain_id", sa.Uuid(), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("config_seq", sa.BigInteger(), nullable=False),
        sa.Column("request_rows", sa.BigInteger(), nullable=False),
        sa.Column("request_head", sa.LargeBinary(), nullable=False),
        sa.Column("response_rows", sa.BigInteger(), nullable=False),
        sa.Column("response_head", sa.LargeBinary(), nullable=False),
        sa.Column("first_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("prev_seal", sa.LargeBinary(), nullable=True),
        sa.Column("seal", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("sealed_by", sa.String(length=10), nullable=False),
        sa.Column(
            "sealed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint("config_seq >= 1", name=op.f("ck_cc_audit_seal_seq_positive")),
        sa.CheckConstraint(
            "request_rows >= 0 AND response_rows >= 0",
            name=op.f("ck_cc_audit_seal_rows_non_negative"),
        ),
        sa.CheckConstraint(
            "sealed_by IN ('run', 'sweep', 'batch', 'backfill')",
            name=op.f("ck_cc_audit_seal_sealed_by_known"),
        ),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_cc_audit_seal")),
        sa.UniqueConstraint(
            "config_id", "config_seq", name=op.f("uq_cc_audit_seal_config_id_config_seq")
        ),
    )
    op.create_index(op.f("ix_cc_audit_seal_sealed_at"), "cc_audit_seal", ["sealed_at"])


def downgrade() -> None:
    op.drop_table("cc_audit_seal")
    op.drop_table("cc_audit_chain")
    for table in LOGS:
        op.drop_index(op.f(f"ix_{table}_chain_id_chain_seq"), table_name=table)
        for column in ("chain_hash", "chain_seq", "chain_id"):
            op.drop_column(table, column)
