"""real OData services, part 2: paging modes, cursor shape, redirects and cut-off bodies

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- ``cc_odata_query_template.paging``: ``auto`` ($top, and any next link wins), ``skip``
  ($top + $skip only) or ``server`` (no $top: next links until there is none).
- ``cc_pagination_state.shape``: what produced its position (order, page size, paging mode,
  select); a run of a template whose shape differs restarts the cursor from the beginning.
- ``cc_api_client_config.ca_bundle`` (a CA bundle file for TLS) and ``parse_retries`` (how
  often a complete body that is no JSON is fetched again before the run stops on ``parse``).
- New error kinds: ``truncated`` (a body cut off: retried), ``bad_next_link``,
  ``next_link_loop``, ``foreign_redirect``, ``too_many_redirects``, and the notice
  ``cursor_restarted``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_BEFORE = (
    "'timeout', 'connect', 'reset', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504',"
    " 'http_400', 'http_401', 'http_403', 'http_404', 'http_409', 'http_501', 'http_other',"
    " 'parse', 'validation', 'foreign_next_link', 'secret_unavailable', 'interrupted',"
    " 'cancelled', 'db', 'legacy_write'"
)
_KINDS_ADDED = (
    ", 'truncated', 'bad_next_link', 'next_link_loop', 'foreign_redirect',"
    " 'too_many_redirects', 'cursor_restarted'"
)


def _error_kinds(kinds: str) -> None:
    op.execute(
        "ALTER TABLE cc_error_event DROP CONSTRAINT ck_cc_error_event_kind_known,"
        f" ADD CONSTRAINT ck_cc_error_event_kind_known CHECK (kind IN ({kinds}))"
    )


def upgrade() -> None:
    _error_kinds(_KINDS_BEFORE + _KINDS_ADDED)
    op.add_column(
        "cc_odata_query_template",
        sa.Column("paging", sa.String(10), server_default="auto", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_cc_odata_query_template_paging_known"),
        "cc_odata_query_template",
        "paging IN ('auto', 'skip', 'server')",
    )
    op.add_column("cc_pagination_state", sa.Column("shape", postgresql.JSONB(none_as_null=True)))
    op.add_column("cc_api_client_config", sa.Column("ca_bundle", sa.Text()))
    op.add_column(
        "cc_api_client_config",
        sa.Column("parse_retries", sa.Integer(), server_default=sa.text("2"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_cc_api_client_config_parse_retries_range"),
        "cc_api_client_config",
        "parse_retries BETWEEN 0 AND 10",
    )


def downgrade() -> None:
    op.execute(
        "DELETE FROM cc_error_event WHERE kind IN ('truncated', 'bad_next_link',"
        " 'next_link_loop', 'foreign_redirect', 'too_many_redirects', 'cursor_restarted')"
    )
    _error_kinds(_KINDS_BEFORE)
    op.drop_constraint(
        op.f("ck_cc_api_client_config_parse_retries_range"), "cc_api_client_config", type_="check"
    )
    op.drop_column("cc_api_client_config", "parse_retries")
    op.drop_column("cc_api_client_config", "ca_bundle")
    op.drop_column("cc_pagination_state", "shape")
    op.drop_constraint(
        op.f("ck_cc_odata_query_template_paging_known"), "cc_odata_query_template", type_="check"
    )
    op.drop_column("cc_odata_query_template", "paging")
