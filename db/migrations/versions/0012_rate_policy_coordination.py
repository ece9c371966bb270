"""rate limits as the server states them, and coordination as a config's choice

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02

- ``cc_rate_limit_state.window_s`` and ``burst``: the policy a server states (``20r/s;
  burst=10``, ``100/60s``, ``RateLimit-Policy: "default";q=100;w=60``), kept with ``limit``.
- ``cc_api_client_config.coordinate_rate_limits`` (default true): whether the engines of the
  config share their rate-limit state and pacing (off: each engine on its own, for A/B runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cc_rate_limit_state", sa.Column("window_s", sa.Float(), nullable=True))
    op.add_column("cc_rate_limit_state", sa.Column("burst", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_cc_rate_limit_state_window_positive"),
        "cc_rate_limit_state",
        "window_s IS NULL OR window_s > 0",
    )
    op.create_check_constraint(
        op.f("ck_cc_rate_limit_state_burst_non_negative"),
        "cc_rate_limit_state",
        "burst IS NULL OR burst >= 0",
    )
    op.add_column(
        "cc_api_client_config",
        sa.Column(
            "coordinate_rate_limits", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_column("cc_api_client_config", "coordinate_rate_limits")
    op.drop_constraint(
        op.f("ck_cc_rate_limit_state_burst_non_negative"), "cc_rate_limit_state", type_="check"
    )
    op.drop_constraint(
        op.f("ck_cc_rate_limit_state_window_positive"), "cc_rate_limit_state", type_="check"
    )
    op.drop_column("cc_rate_limit_state", "burst")
    op.drop_column("cc_rate_limit_state", "window_s")
