"""hardening, part 2: one owner per cursor, enforced in the data

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

- ``cc_pagination_state.owner_run_id``, ``lease_token``, ``lease_expires_at``: the lease. A run
  takes the cursor over only when no live lease holds it (the token goes up by one), renews
  it with its heartbeat, and lands a page or writes a request row only while
  ``owner_run_id``, ``lease_token`` are its own and the lease has not expired. The advisory
  lock stays the fast path; the lease holds when the lock's connection dies.
- New error kinds: ``lost_cursor`` (a run found another one owns its cursor now: it stops and
  sends nothing more) and ``internal`` (an unexpected exception ended the run).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_BEFORE = (
    "'timeout', 'connect', 'reset', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504',"
    " 'http_400', 'http_401', 'http_403', 'http_404', 'http_409', 'http_501', 'http_other',"
    " 'parse', 'validation', 'foreign_next_link', 'secret_unavailable', 'interrupted',"
    " 'cancelled', 'db', 'legacy_write', 'truncated', 'bad_next_link', 'next_link_loop',"
    " 'foreign_redirect', 'too_many_redirects', 'cursor_restarted'"
)


def _error_kinds(kinds: str) -> None:
    op.execute(
        "ALTER TABLE cc_error_event DROP CONSTRAINT ck_cc_error_event_kind_known,"
        f" ADD CONSTRAINT ck_cc_error_event_kind_known CHECK (kind IN ({kinds}))"
    )


def upgrade() -> None:
    _error_kinds(_KINDS_BEFORE + ", 'lost_cursor', 'internal'")
    op.add_column("cc_pagination_state", sa.Column("owner_run_id", sa.Uuid(), nullable=True))
    op.add_column(
        "cc_pagination_state",
        sa.Column("lease_token", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "cc_pagination_state",
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_foreign_key(
        op.f("fk_cc_pagination_state_owner_run_id_cc_sync_run"),
        "cc_pagination_state",
        "cc_sync_run",
        ["owner_run_id"],
        ["id"],
    )
    op.create_check_constraint(
        op.f("ck_cc_pagination_state_lease_token_non_negative"),
        "cc_pagination_state",
        "lease_token >= 0",
    )
    op.create_index(
        op.f("ix_cc_pagination_state_owner_run_id"), "cc_pagination_state", ["owner_run_id"]
    )


def downgrade() -> None:
    op.execute("DELETE FROM cc_error_event WHERE kind IN ('lost_cursor', 'internal')")
    _error_kinds(_KINDS_BEFORE)
    op.drop_index(op.f("ix_cc_pagination_state_owner_run_id"), table_name="cc_pagination_state")
    op.drop_constraint(
        op.f("ck_cc_pagination_state_lease_token_non_negative"),
        "cc_pagination_state",
        type_="check",
    )
    op.drop_constraint(
        op.f("fk_cc_pagination_state_owner_run_id_cc_sync_run"),
        "cc_pagination_state",
        type_="foreignkey",
    )
    op.drop_column("cc_pagination_state", "lease_expires_at")
    op.drop_column("cc_pagination_state", "lease_token")
    op.drop_column("cc_pagination_state", "owner_run_id")
