"""Worker names: which `cc-console worker` process each procrastinate worker is

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

procrastinate's ``procrastinate_workers`` holds an id and a heartbeat only; a process
registers two (its schedule and sync workers). ``cc_worker`` says, per procrastinate worker
id, the process's ``--name``, its role (schedule or sync), host and pid — what the Workers
view and ``jobs`` show instead of bare ids. No foreign key: procrastinate prunes its own rows;
``db maintain`` deletes names whose worker is gone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cc_worker",
        sa.Column("procrastinate_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("procrastinate_id", name=op.f("pk_cc_worker")),
    )


def downgrade() -> None:
    op.drop_table("cc_worker")
