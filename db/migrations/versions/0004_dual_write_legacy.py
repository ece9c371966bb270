"""cutover: a config may dual-write every attempt to the legacy api_call_log; runs count it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

``dual_write_legacy`` turns the mirror on for one config, ``legacy_url`` says where the
legacy store is: a PostgreSQL URL without a password (use ~/.pgpass or PGPASSWORD) or a
secret reference env:NAME / file:PATH to a full URL, so no password lands in this table.
A run records how many attempts it mirrored and how many mirror writes failed; both stay
NULL for runs of configs that do not dual-write. A run whose mirror lost writes also gets
one error event of the new kind ``legacy_write``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

_KINDS_BEFORE = (
    "'timeout', 'connect', 'reset', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504',"
    " 'http_400', 'http_401', 'http_403', 'http_404', 'http_409', 'http_501', 'http_other',"
    " 'parse', 'validation', 'foreign_next_link', 'secret_unavailable', 'interrupted',"
    " 'cancelled', 'db'"
)


def _error_kinds(kinds: str) -> None:
    op.execute(
        "ALTER TABLE cc_error_event DROP CONSTRAINT ck_cc_error_event_kind_known,"
        f" ADD CONSTRAINT ck_cc_error_event_kind_known CHECK (kind IN ({kinds}))"
    )


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _error_kinds(_KINDS_BEFORE + ", 'legacy_write'")
    op.execute(
        "ALTER TABLE cc_api_client_config"
        " ADD COLUMN dual_write_legacy boolean NOT NULL DEFAULT false,"
        " ADD COLUMN legacy_url text,"
        " ADD CONSTRAINT ck_cc_api_client_config_legacy_url_safe CHECK (legacy_url IS NULL"
        " OR legacy_url ~ '^(env|file):.+'"
        " OR (legacy_url ~* '^postgres(ql)?://' AND legacy_url !~ '^[^/]*//[^/@]*:[^/@]*@')),"
        " ADD CONSTRAINT ck_cc_api_client_config_dual_write_has_url"
        " CHECK (NOT dual_write_legacy OR legacy_url IS NOT NULL)"
    )
    op.execute(
        "ALTER TABLE cc_sync_run ADD COLUMN legacy_writes integer,"
        " ADD COLUMN legacy_write_failures integer,"
        " ADD CONSTRAINT ck_cc_sync_run_legacy_counts CHECK"
        " ((legacy_writes IS NULL) = (legacy_write_failures IS NULL)"
        " AND COALESCE(legacy_writes, 0) >= 0 AND COALESCE(legacy_write_failures, 0) >= 0)"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE cc_sync_run DROP CONSTRAINT ck_cc_sync_run_legacy_counts,"
        " DROP COLUMN legacy_write_failures, DROP COLUMN legacy_writes"
    )
    op.execute(
        "ALTER TABLE cc_api_client_config"
        " DROP CONSTRAINT ck_cc_api_client_config_dual_write_has_url,"
        " DROP CONSTRAINT ck_cc_api_client_config_legacy_url_safe,"
        " DROP COLUMN legacy_url, DROP COLUMN dual_write_legacy"
    )
    op.execute("DELETE FROM cc_error_event WHERE kind = 'legacy_write'")
    _error_kinds(_KINDS_BEFORE)
