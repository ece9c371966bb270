"""Response chains: a page's body is digested by the engine, as canonical JSON

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03

A page's response row used to be digested by PostgreSQL from its body's JSONB text: writing
that text for a ~600 KB page and hashing it, and carrying the body through the CTEs that link
the row, cost the landing ~4-6 ms a page, 10-15 % of the hot path. Now the engine, which
decoded the body anyway, digests its canonical JSON (orjson, keys sorted) before the landing,
and ``chain_canonical_body`` says so (it is part of the row's digest too). NULL or false: the
row is digested from its JSONB text, as before (every row written before this migration, and
any body whose numbers might not read back the same from JSONB; see
``cc_console/store/canonical_body.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cc_api_response_log", sa.Column("chain_canonical_body", sa.Boolean(), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("cc_api_response_log", "chain_canonical_body")
