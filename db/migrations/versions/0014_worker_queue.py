"""the job queue workers share: procrastinate's schema, and each run's job

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03

procrastinate (pinned exactly in pyproject.toml) keeps its jobs, workers, periodic defers and
events in ``procrastinate_*`` tables; ``store/queue_schema.py`` installs them as the installed
version ships them and records which schema change that is, so a later revision that pins a
newer procrastinate applies only the changes after it. procrastinate has no down migrations:
the downgrade drops its objects by name.

``cc_sync_run.job_id`` is the procrastinate job that ran the run (NULL for runs started
inline); ``auto_resumes`` counts the resumes a worker made without an operator in the run's
chain up to it, so a chain stops being resumed after the configured number.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cc_console.store.queue_schema import drop_queue_schema, install_queue_schema

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    install_queue_schema(op.get_bind())
    op.add_column("cc_sync_run", sa.Column("job_id", sa.BigInteger(), nullable=True))
    op.add_column(
        "cc_sync_run",
        sa.Column("auto_resumes", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_cc_sync_run_auto_resumes_non_negative"), "cc_sync_run", "auto_resumes >= 0"
    )
    op.create_index(
        "ix_cc_sync_run_job_id", "cc_sync_run", ["job_id"], postgresql_where="job_id IS NOT NULL"
    )
    # a template's latest run, as the scheduler asks every tick
    op.create_index("ix_cc_sync_run_template_started", "cc_sync_run", ["template_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_cc_sync_run_template_started", table_name="cc_sync_run")
    op.drop_index("ix_cc_sync_run_job_id", table_name="cc_sync_run")
    op.drop_constraint(
        op.f("ck_cc_sync_run_auto_resumes_non_negative"), "cc_sync_run", type_="check"
    )
    op.drop_column("cc_sync_run", "auto_resumes")
    op.drop_column("cc_sync_run", "job_id")
    drop_queue_schema(op.get_bind())
