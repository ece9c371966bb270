"""the console's rooms: an attempt's outcome without a scan

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

- ``ix_cc_error_event_request_id_request_sent_at`` (partial: rows that name a request): the
  Live requests pane and the audit browser show the error kind of an attempt that died
  before a response (connect, reset, timeout) instead of ``…`` as if it were in flight; each
  row looks its error up by this index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_cc_error_event_request_id_request_sent_at"),
        "cc_error_event",
        ["request_id", "request_sent_at"],
        postgresql_where=sa.text("request_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_cc_error_event_request_id_request_sent_at"), table_name="cc_error_event")
