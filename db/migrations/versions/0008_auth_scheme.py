"""hardening, part 1: an auth scheme, so that a key travels alone

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- ``cc_api_client_config.auth_scheme``: ``Bearer`` (or another scheme token) makes the auth
  header ``<scheme> <key>``; the key itself is refused when it holds whitespace or control
  characters, so a ``Bearer …`` pasted into the secret no longer travels as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTH_SCHEME_PATTERN = "^[A-Za-z][A-Za-z0-9._~+-]*$"  # as store/vocabulary.py says it today


def upgrade() -> None:
    op.add_column("cc_api_client_config", sa.Column("auth_scheme", sa.String(40)))
    op.create_check_constraint(
        op.f("ck_cc_api_client_config_auth_scheme_token"),
        "cc_api_client_config",
        f"auth_scheme ~ '{AUTH_SCHEME_PATTERN}'",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_cc_api_client_config_auth_scheme_token"), "cc_api_client_config", type_="check"
    )
    op.drop_column("cc_api_client_config", "auth_scheme")
