"""The auditor's error events: a message of a resource with a policy has its quoted literals
fingerprinted

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04

A server's error may echo the request's ``$filter`` (``lastName eq 'Smith'``), and the
message is stored as the server wrote it. The request's URL and options reach the auditor
redacted (0019), the message did not. ``cc_audit_redacted.error_message`` (SECURITY DEFINER,
taking an event's id, never a value: no fingerprint oracle) fingerprints its quoted literals
as ``cc_redaction.filter_text`` does a filter's, when the event's resource has a policy; the
view reads it. Auditor roles granted before this migration get EXECUTE on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE FUNCTION cc_audit_redacted.error_message(p_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  e record;
BEGIN
  SELECT v.message AS m, v.config_id, v.endpoint_path INTO e
  FROM @SCHEMA@.cc_error_event v WHERE v.id = p_id;
  IF e.m IS NULL OR cc_redaction.policy(e.config_id, e.endpoint_path) IS NULL THEN
    RETURN e.m;
  END IF;
  RETURN cc_redaction.filter_text(e.m);
END
$fn$;
REVOKE ALL ON FUNCTION cc_audit_redacted.error_message(uuid) FROM PUBLIC;
"""

_VIEW = """
CREATE OR REPLACE VIEW cc_audit_redacted.error_event AS
SELECT e.id, e.occurred_at, e.kind, e.retryable, e.status_code, e.endpoint_path,
       {message} AS message,
       e.config_id, e.run_id, e.request_id, e.request_sent_at, e.response_id, e.response_sent_at
FROM @SCHEMA@.cc_error_event e;
"""

_AUDITORS = """
SELECT quote_ident(r.rolname) FROM pg_roles r
WHERE NOT r.rolsuper AND has_schema_privilege(r.oid, 'cc_audit_redacted', 'USAGE')
  AND r.rolname <> current_user
"""


def _execute(sql: str) -> None:
    bind = op.get_bind()
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    bind.exec_driver_sql(sql.replace("@SCHEMA@", '"' + schema.replace('"', '""') + '"'))


def upgrade() -> None:
    _execute(_FUNCTION)
    _execute(_VIEW.format(message="cc_audit_redacted.error_message(e.id)"))
    bind = op.get_bind()
    for role in list(bind.exec_driver_sql(_AUDITORS).scalars()):
        bind.exec_driver_sql(
            f"GRANT EXECUTE ON FUNCTION cc_audit_redacted.error_message(uuid) TO {role}"
        )


def downgrade() -> None:
    _execute(_VIEW.format(message="e.message"))
    op.execute("DROP FUNCTION cc_audit_redacted.error_message(uuid)")
