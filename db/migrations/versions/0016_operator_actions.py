"""Who did what: the operator action log

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

- ``cc_operator_action``: one row per thing an operator asked for — config add/edit/activate/
  deactivate, template add/remove, sync/resume/retry/cancel (from the CLI or the console,
  run here or queued for the workers), db maintain — with who asked (the database role, as
  PostgreSQL knows it, and the OS user, ``CC_USER`` or the login), from which host and
  through what (``cli`` or ``console``), when (the database's clock), and the ids involved.
- ``cc_sync_run.action_id``: the action that started a run here (a queued one is found by
  ``job_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cc_operator_action",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column(
            "db_role", sa.String(length=100), server_default=sa.text("current_user"), nullable=False
        ),
        sa.Column("os_user", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=True),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "detail",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('cli', 'console')", name=op.f("ck_cc_operator_action_source_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_operator_action")),
    )
    op.create_index("ix_cc_operator_action_at", "cc_operator_action", ["at"])
    op.create_index(
        "ix_cc_operator_action_run",
        "cc_operator_action",
        ["run_id"],
        postgresql_where=sa.text("run_id IS NOT NULL"),
    )
    op.add_column("cc_sync_run", sa.Column("action_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_cc_sync_run_action_id_cc_operator_action"),
        "cc_sync_run",
        "cc_operator_action",
        ["action_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_cc_sync_run_action_id_cc_operator_action"), "cc_sync_run", type_="foreignkey"
    )
    op.drop_column("cc_sync_run", "action_id")
    op.drop_table("cc_operator_action")
