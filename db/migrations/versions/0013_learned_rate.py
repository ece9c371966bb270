"""the allowed rate each rate-limit scope has learned from its 429s

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02

``cc_rate_limit_state`` keeps the estimator of ``store/rate_estimate.py`` per scope, shared by
every engine of the config: ``ceiling_rps`` (the rate the last 429 found) or
``slow_start_rps`` (while it is unknown), ``confirmations`` (429s in a row that found it in
place), ``curve_started_at`` (the last decrease, by the database's clock: the curve's origin),
and ``sent`` / ``throttled`` (attempts and 429s since then).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "cc_rate_limit_state"
_CHECKS = {
    "ceiling_positive": "ceiling_rps IS NULL OR ceiling_rps > 0",
    "slow_start_positive": "slow_start_rps IS NULL OR slow_start_rps > 0",
    "counts_non_negative": "sent >= 0 AND throttled >= 0 AND confirmations >= 0",
}


def upgrade() -> None:
    op.add_column(_TABLE, sa.Column("ceiling_rps", sa.Float(), nullable=True))
    op.add_column(_TABLE, sa.Column("slow_start_rps", sa.Float(), nullable=True))
    op.add_column(
        _TABLE,
        sa.Column("confirmations", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(_TABLE, sa.Column("curve_started_at", sa.DateTime(timezone=True)))
    op.add_column(
        _TABLE, sa.Column("sent", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column(
        _TABLE, sa.Column("throttled", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    for name, condition in _CHECKS.items():
        op.create_check_constraint(op.f(f"ck_{_TABLE}_{name}"), _TABLE, condition)


def downgrade() -> None:
    for name in _CHECKS:
        op.drop_constraint(op.f(f"ck_{_TABLE}_{name}"), _TABLE, type_="check")
    for column in (
        "throttled",
        "sent",
        "curve_started_at",
        "confirmations",
        "slow_start_rps",
        "ceiling_rps",
    ):
        op.drop_column(_TABLE, column)
