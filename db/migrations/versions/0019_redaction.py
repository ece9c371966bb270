"""Redaction for auditors: the policy, the key's HMAC pads, and the redacting views

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03

- ``cc_redaction_policy``: per (config, resource path) the JSON paths redacted in its records
  (``paths``) and their parsed steps (``steps``, from ``cc_console/redaction.py``).
- ``cc_redaction_key``: one row, the inner and outer HMAC-SHA-256 pads of the deployment's
  redaction key, written by ``db grant-auditor`` / ``audit redact set`` from the key's secret
  reference. No grant to anyone: the owner (and any superuser) can read it — and so could
  fingerprint candidate values — the auditor role cannot.
- schema ``cc_redaction``: the SQL twin of ``cc_console/redaction.py`` (canonical encoding,
  fingerprint, path walking, envelope, ``$filter`` literals). EXECUTE is revoked from PUBLIC:
  a caller who could fingerprint any value would have an oracle (a hundred birth years).
- schema ``cc_audit_redacted``: the auditor's views over the request and response logs,
  validations, error events, runs, operator actions and the policy. Redacted columns come from
  SECURITY DEFINER functions that take a row's key, never a value, so they answer only what
  the views show. Policy changes apply at once: the functions read the policy table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INTERNAL = """
CREATE SCHEMA cc_redaction;
REVOKE ALL ON SCHEMA cc_redaction FROM PUBLIC;

CREATE FUNCTION cc_redaction.canonical(v jsonb) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
  raw bytea;
  encoded bytea;
BEGIN
  CASE jsonb_typeof(v)
  WHEN 'string' THEN
    raw := convert_to(v #>> '{}', 'UTF8');
    RETURN convert_to('s' || octet_length(raw) || ':', 'UTF8') || raw;
  WHEN 'number' THEN
    RETURN convert_to('n' || trim_scale((v #>> '{}')::numeric)::text || ';', 'UTF8');
  WHEN 'boolean' THEN
    RETURN convert_to(CASE WHEN v = 'true'::jsonb THEN 't' ELSE 'f' END, 'UTF8');
  WHEN 'null' THEN
    RETURN convert_to('z', 'UTF8');
  WHEN 'array' THEN
    SELECT convert_to('a' || jsonb_array_length(v) || ':', 'UTF8')
           || coalesce(string_agg(cc_redaction.canonical(e), ''::bytea ORDER BY o), ''::bytea)
      INTO encoded FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, o);
    RETURN encoded;
  ELSE
    SELECT convert_to('o' || count(*) || ':', 'UTF8')
           || coalesce(string_agg(cc_redaction.canonical(to_jsonb(k)) || cc_redaction.canonical(e),
                                  ''::bytea ORDER BY convert_to(k, 'UTF8')), ''::bytea)
      INTO encoded FROM jsonb_each(v) AS t(k, e);
    RETURN encoded;
  END CASE;
END
$fn$;

CREATE FUNCTION cc_redaction.mark(v jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  pads record;
BEGIN
  IF jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^‹redacted:hmac:[0-9a-f]{16}›$' THEN
    RETURN v;
  END IF;
  SELECT ipad, opad INTO pads FROM @SCHEMA@.cc_redaction_key WHERE id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no redaction key in the database: run cc-console db grant-auditor';
  END IF;
  RETURN to_jsonb('‹redacted:hmac:' || left(encode(
    sha256(pads.opad || sha256(pads.ipad || cc_redaction.canonical(v))), 'hex'), 16) || '›');
END
$fn$;

CREATE FUNCTION cc_redaction.at(v jsonb, steps jsonb, i integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  step jsonb;
  walked jsonb;
BEGIN
  IF i >= jsonb_array_length(steps) THEN
    RETURN cc_redaction.mark(v);
  END IF;
  step := steps -> i;
  IF step ->> 0 = 'k' THEN
    IF jsonb_typeof(v) = 'object' AND (v -> (step ->> 1)) IS NOT NULL THEN
      RETURN jsonb_set(v, ARRAY[step ->> 1], cc_redaction.at(v -> (step ->> 1), steps, i + 1));
    END IF;
    RETURN v;
  ELSIF step ->> 0 = '*' THEN
    IF jsonb_typeof(v) = 'array' THEN
      SELECT coalesce(jsonb_agg(cc_redaction.at(e, steps, i + 1) ORDER BY o), '[]'::jsonb)
        INTO walked FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, o);
      RETURN walked;
    END IF;
    RETURN v;
  END IF;
  RETURN cc_redaction.descend(v, step ->> 1, steps, i + 1);
END
$fn$;

CREATE FUNCTION cc_redaction.descend(v jsonb, name text, steps jsonb, i integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  walked jsonb;
BEGIN
  IF jsonb_typeof(v) = 'object' THEN
    SELECT coalesce(jsonb_object_agg(k, CASE WHEN k = name THEN cc_redaction.at(e, steps, i)
                                        ELSE cc_redaction.descend(e, name, steps, i) END),
                    '{}'::jsonb)
      INTO walked FROM jsonb_each(v) AS t(k, e);
    RETURN walked;
  ELSIF jsonb_typeof(v) = 'array' THEN
    SELECT coalesce(jsonb_agg(cc_redaction.descend(e, name, steps, i) ORDER BY o), '[]'::jsonb)
      INTO walked FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, o);
    RETURN walked;
  END IF;
  RETURN v;
END
$fn$;

CREATE FUNCTION cc_redaction.record(v jsonb, policy jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  steps jsonb;
BEGIN
  FOR steps IN SELECT e FROM jsonb_array_elements(policy) WITH ORDINALITY AS t(e, o) ORDER BY o
  LOOP
    v := cc_redaction.at(v, steps, 0);
  END LOOP;
  RETURN v;
END
$fn$;

CREATE FUNCTION cc_redaction.body(v jsonb, policy jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  at_key text;
BEGIN
  IF v IS NULL OR policy IS NULL THEN
    RETURN v;
  END IF;
  IF jsonb_typeof(v) = 'object' THEN
    SELECT k INTO at_key FROM jsonb_each(v) AS t(k, e)
    WHERE (k = 'value' OR lower(k) = 'items') AND jsonb_typeof(e) = 'array'
    ORDER BY k = 'value' DESC, convert_to(k, 'UTF8') LIMIT 1;
  END IF;
  IF at_key IS NOT NULL THEN
    RETURN jsonb_set(v, ARRAY[at_key], (
      SELECT coalesce(jsonb_agg(cc_redaction.record(e, policy) ORDER BY o), '[]'::jsonb)
      FROM jsonb_array_elements(v -> at_key) WITH ORDINALITY AS t(e, o)));
  ELSIF jsonb_typeof(v) = 'array' THEN
    RETURN (SELECT coalesce(jsonb_agg(cc_redaction.record(e, policy) ORDER BY o), '[]'::jsonb)
            FROM jsonb_array_elements(v) WITH ORDINALITY AS t(e, o));
  END IF;
  RETURN cc_redaction.record(v, policy);
END
$fn$;

CREATE FUNCTION cc_redaction.filter_text(f text) RETURNS text
LANGUAGE sql STABLE AS $fn$
  SELECT string_agg(s.piece || coalesce('''' || (cc_redaction.mark(
           to_jsonb(replace(m.found[1], '''''', ''''))) #>> '{}') || '''', ''), '' ORDER BY s.n)
  FROM unnest(regexp_split_to_array(f, '''((?:[^'']|'''')*)''')) WITH ORDINALITY AS s(piece, n)
  LEFT JOIN regexp_matches(f, '''((?:[^'']|'''')*)''', 'g') WITH ORDINALITY AS m(found, n)
    ON m.n = s.n
$fn$;

CREATE FUNCTION cc_redaction.query_params(q jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  IF jsonb_typeof(q -> '$filter') = 'string' THEN
    q := jsonb_set(q, '{$filter}', to_jsonb(cc_redaction.filter_text(q ->> '$filter')));
  END IF;
  IF jsonb_typeof(q -> '$search') = 'string' THEN
    q := jsonb_set(q, '{$search}', cc_redaction.mark(q -> '$search'));
  END IF;
  RETURN q;
END
$fn$;

CREATE FUNCTION cc_redaction.errors_sample(sample jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
  SELECT CASE WHEN jsonb_typeof(sample) <> 'array' THEN sample ELSE (
    SELECT coalesce(jsonb_agg(CASE WHEN jsonb_typeof(e -> 'message') = 'string'
                                   THEN jsonb_set(e, '{message}', cc_redaction.mark(e -> 'message'))
                                   ELSE e END ORDER BY o), '[]'::jsonb)
    FROM jsonb_array_elements(sample) WITH ORDINALITY AS t(e, o)) END
$fn$;

CREATE FUNCTION cc_redaction.policy(config uuid, resource text) RETURNS jsonb
LANGUAGE sql STABLE AS $fn$
  SELECT steps FROM @SCHEMA@.cc_redaction_policy
  WHERE config_id = config AND resource_path = resource
$fn$;
"""

_EXPOSED = """
CREATE SCHEMA cc_audit_redacted;
REVOKE ALL ON SCHEMA cc_audit_redacted FROM PUBLIC;
COMMENT ON SCHEMA cc_audit_redacted IS
  'cc-console: the audit trail as an auditor may read it (cc-console db grant-auditor)';

CREATE FUNCTION cc_audit_redacted.request_redacted(
  p_id uuid, p_sent_at timestamptz, OUT url text, OUT query_params jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  q record;
  policy jsonb;
BEGIN
  SELECT r.url AS u, r.query_params AS p, r.config_id, r.endpoint_path INTO q
  FROM @SCHEMA@.cc_api_request_log r WHERE r.id = p_id AND r.sent_at = p_sent_at;
  policy := cc_redaction.policy(q.config_id, q.endpoint_path);
  IF policy IS NULL THEN
    url := q.u;
    query_params := q.p;
  ELSE
    url := split_part(q.u, '?', 1);
    query_params := cc_redaction.query_params(q.p);
  END IF;
END
$fn$;

CREATE FUNCTION cc_audit_redacted.response_redacted(
  p_id uuid, p_sent_at timestamptz, OUT body jsonb, OUT body_text text,
  OUT validation_errors jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  s record;
  policy jsonb;
BEGIN
  SELECT r.body AS b, r.body_text AS t, r.validation_errors AS e, q.config_id, q.endpoint_path
    INTO s
  FROM @SCHEMA@.cc_api_response_log r
  JOIN @SCHEMA@.cc_api_request_log q ON q.id = r.request_id AND q.sent_at = r.sent_at
  WHERE r.id = p_id AND r.sent_at = p_sent_at;
  policy := cc_redaction.policy(s.config_id, s.endpoint_path);
  IF policy IS NULL THEN
    body := s.b;
    body_text := s.t;
    validation_errors := s.e;
  ELSE
    body := cc_redaction.body(s.b, policy);
    body_text := cc_redaction.mark(to_jsonb(s.t)) #>> '{}';
    validation_errors := cc_redaction.errors_sample(s.e);
  END IF;
END
$fn$;

CREATE FUNCTION cc_audit_redacted.validation_errors_sample(p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v record;
BEGIN
  SELECT s.errors_sample AS e, q.config_id, q.endpoint_path INTO v
  FROM @SCHEMA@.cc_schema_validation s
  JOIN @SCHEMA@.cc_api_response_log r ON r.id = s.response_id AND r.sent_at = s.response_sent_at
  JOIN @SCHEMA@.cc_api_request_log q ON q.id = r.request_id AND q.sent_at = r.sent_at
  WHERE s.id = p_id;
  IF cc_redaction.policy(v.config_id, v.endpoint_path) IS NULL THEN
    RETURN v.e;
  END IF;
  RETURN cc_redaction.errors_sample(v.e);
END
$fn$;

CREATE VIEW cc_audit_redacted.request_log AS
SELECT q.id, q.sent_at, q.config_id, c.name AS config, q.run_id, q.template_id, q.method,
       x.url, q.endpoint_path, x.query_params, q.headers, q.body_size, q.attempt_no,
       q.key_fingerprint
FROM @SCHEMA@.cc_api_request_log q
JOIN @SCHEMA@.cc_api_client_config c ON c.id = q.config_id
CROSS JOIN LATERAL cc_audit_redacted.request_redacted(q.id, q.sent_at) x;

CREATE VIEW cc_audit_redacted.response_log AS
SELECT s.id, s.sent_at, s.request_id, s.received_at, s.status_code, s.headers, s.content_type,
       x.body, x.body_text, s.size_bytes, s.elapsed_ms, s.parse_ok, x.validation_errors,
       s.odata_count, s.has_next_link
FROM @SCHEMA@.cc_api_response_log s
CROSS JOIN LATERAL cc_audit_redacted.response_redacted(s.id, s.sent_at) x;

CREATE VIEW cc_audit_redacted.schema_validation AS
SELECT v.id, v.checked_at, v.response_id, v.response_sent_at, v.run_id, v.resource_path,
       v.schema_name, v.schema_version, v.ok, v.records_checked, v.records_invalid,
       cc_audit_redacted.validation_errors_sample(v.id) AS errors_sample, v.drift,
       v.shape_fingerprint
FROM @SCHEMA@.cc_schema_validation v;

CREATE VIEW cc_audit_redacted.error_event AS
SELECT e.id, e.occurred_at, e.kind, e.retryable, e.status_code, e.endpoint_path, e.message,
       e.config_id, e.run_id, e.request_id, e.request_sent_at, e.response_id, e.response_sent_at
FROM @SCHEMA@.cc_error_event e;

CREATE VIEW cc_audit_redacted.sync_run AS SELECT r.* FROM @SCHEMA@.cc_sync_run r;

CREATE VIEW cc_audit_redacted.operator_action AS SELECT a.* FROM @SCHEMA@.cc_operator_action a;

CREATE VIEW cc_audit_redacted.redaction_policy AS
SELECT c.name AS config, p.config_id, p.resource_path, p.paths, p.updated_at, p.updated_by
FROM @SCHEMA@.cc_redaction_policy p JOIN @SCHEMA@.cc_api_client_config c ON c.id = p.config_id;
"""


def _execute(sql: str) -> None:
    bind = op.get_bind()
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    bind.exec_driver_sql(sql.replace("@SCHEMA@", '"' + schema.replace('"', '""') + '"'))
    functions = bind.exec_driver_sql(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n"
        " ON n.oid = p.pronamespace WHERE n.nspname IN ('cc_redaction', 'cc_audit_redacted')"
    ).scalars()
    for function in list(functions):  # functions are PUBLIC's to call unless revoked
        bind.exec_driver_sql(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def upgrade() -> None:
    op.create_table(
        "cc_redaction_policy",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("paths", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("steps", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "jsonb_typeof(paths) = 'array' AND jsonb_array_length(paths) > 0",
            name=op.f("ck_cc_redaction_policy_paths_not_empty"),
        ),
        sa.CheckConstraint(
            "jsonb_typeof(steps) = 'array'"
            " AND jsonb_array_length(steps) = jsonb_array_length(paths)",
            name=op.f("ck_cc_redaction_policy_steps_match_paths"),
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_redaction_policy_config_id_cc_api_client_config"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_redaction_policy")),
        sa.UniqueConstraint(
            "config_id",
            "resource_path",
            name=op.f("uq_cc_redaction_policy_config_id_resource_path"),
        ),
    )
    op.create_table(
        "cc_redaction_key",
        sa.Column("id", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("ipad", sa.LargeBinary(), nullable=False),
        sa.Column("opad", sa.LargeBinary(), nullable=False),
        sa.Column(
            "installed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("installed_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint("id", name=op.f("ck_cc_redaction_key_single_row")),
        sa.CheckConstraint(
            "octet_length(ipad) = 64 AND octet_length(opad) = 64",
            name=op.f("ck_cc_redaction_key_pads_64"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_redaction_key")),
    )
    _execute(_INTERNAL + _EXPOSED)


def downgrade() -> None:
    op.execute("DROP SCHEMA cc_audit_redacted CASCADE")
    op.execute("DROP SCHEMA cc_redaction CASCADE")
    op.drop_table("cc_redaction_key")
    op.drop_table("cc_redaction_policy")
