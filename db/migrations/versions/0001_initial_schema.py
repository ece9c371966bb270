"""initial schema: the ten tables of DESIGN.md

Revision ID: 0001
Revises:
Create Date: 2026-11-26 13:31:58.081811
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cc_api_client_config",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("auth_header", sa.String(length=100), server_default="X-ApiKey", nullable=False),
        sa.Column("secret_ref", sa.Text(), nullable=False),
        sa.Column("connect_timeout_s", sa.Float(), server_default=sa.text("5"), nullable=False),
        sa.Column("read_timeout_s", sa.Float(), server_default=sa.text("30"), nullable=False),
        sa.Column("total_timeout_s", sa.Float(), server_default=sa.text("120"), nullable=False),
        sa.Column("max_retries", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column("backoff_base_s", sa.Float(), server_default=sa.text("0.5"), nullable=False),
        sa.Column("backoff_max_s", sa.Float(), server_default=sa.text("30"), nullable=False),
        sa.Column("backoff_jitter", sa.String(length=10), server_default="full", nullable=False),
        sa.Column("retry_after_cap_s", sa.Float(), server_default=sa.text("120"), nullable=False),
        sa.Column("retry_http_500", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("default_page_size", sa.Integer(), server_default=sa.text("100"), nullable=False),
        sa.Column("max_requests_per_second", sa.Float(), nullable=True),
        sa.Column(
            "masked_headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "backoff_jitter IN ('full', 'equal', 'none')",
            name=op.f("ck_cc_api_client_config_backoff_jitter_known"),
        ),
        sa.CheckConstraint(
            "base_url ~* '^https?://[^/]+'", name=op.f("ck_cc_api_client_config_base_url_http")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(masked_headers) = 'array'",
            name=op.f("ck_cc_api_client_config_masked_headers_array"),
        ),
        sa.CheckConstraint(
            "secret_ref ~ '^(env|file):.+'",
            name=op.f("ck_cc_api_client_config_secret_ref_is_reference"),
        ),
        sa.CheckConstraint(
            "backoff_base_s > 0 AND backoff_max_s >= backoff_base_s",
            name=op.f("ck_cc_api_client_config_backoff_range"),
        ),
        sa.CheckConstraint(
            "connect_timeout_s > 0 AND read_timeout_s > 0 AND total_timeout_s > 0",
            name=op.f("ck_cc_api_client_config_timeouts_positive"),
        ),
        sa.CheckConstraint(
            "default_page_size BETWEEN 1 AND 1000",
            name=op.f("ck_cc_api_client_config_page_size_range"),
        ),
        sa.CheckConstraint(
            "length(auth_header) > 0", name=op.f("ck_cc_api_client_config_auth_header_not_empty")
        ),
        sa.CheckConstraint("length(name) > 0", name=op.f("ck_cc_api_client_config_name_not_empty")),
        sa.CheckConstraint(
            "max_requests_per_second IS NULL OR max_requests_per_second > 0",
            name=op.f("ck_cc_api_client_config_max_rps_positive"),
        ),
        sa.CheckConstraint(
            "max_retries >= 0", name=op.f("ck_cc_api_client_config_max_retries_non_negative")
        ),
        sa.CheckConstraint(
            "retry_after_cap_s > 0", name=op.f("ck_cc_api_client_config_retry_after_cap_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_api_client_config")),
        sa.UniqueConstraint("name", name=op.f("uq_cc_api_client_config_name")),
    )
    op.create_table(
        "cc_odata_query_template",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("params_hash", sa.String(length=64), nullable=False),
        sa.Column("filter_hash", sa.String(length=64), nullable=False),
        sa.Column("schedule_interval_s", sa.Integer(), nullable=True),
        sa.Column("sla_target_s", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "jsonb_typeof(params) = 'object'", name=op.f("ck_cc_odata_query_template_params_object")
        ),
        sa.CheckConstraint(
            "resource_path LIKE '/%%'",
            name=op.f("ck_cc_odata_query_template_resource_path_absolute"),
        ),
        sa.CheckConstraint(
            "length(filter_hash) = 64", name=op.f("ck_cc_odata_query_template_filter_hash_sha256")
        ),
        sa.CheckConstraint(
            "length(params_hash) = 64", name=op.f("ck_cc_odata_query_template_params_hash_sha256")
        ),
        sa.CheckConstraint(
            "schedule_interval_s IS NULL OR schedule_interval_s > 0",
            name=op.f("ck_cc_odata_query_template_schedule_positive"),
        ),
        sa.CheckConstraint(
            "sla_target_s IS NULL OR sla_target_s > 0",
            name=op.f("ck_cc_odata_query_template_sla_target_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_odata_query_template_config_id_cc_api_client_config"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_odata_query_template")),
        sa.UniqueConstraint(
            "config_id",
            "resource_path",
            "params_hash",
            name=op.f("uq_cc_odata_query_template_config_id_resource_path_params_hash"),
        ),
    )
    op.create_table(
        "cc_rate_limit_state",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_after_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_429_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "scope = 'global' OR scope LIKE 'endpoint:/%%'",
            name=op.f("ck_cc_rate_limit_state_scope_known"),
        ),
        sa.CheckConstraint(
            '"limit" IS NULL OR "limit" >= 0',
            name=op.f("ck_cc_rate_limit_state_limit_non_negative"),
        ),
        sa.CheckConstraint(
            "remaining IS NULL OR remaining >= 0",
            name=op.f("ck_cc_rate_limit_state_remaining_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_rate_limit_state_config_id_cc_api_client_config"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_rate_limit_state")),
        sa.UniqueConstraint(
            "config_id", "scope", name=op.f("uq_cc_rate_limit_state_config_id_scope")
        ),
    )
    op.create_index(
        op.f("ix_cc_rate_limit_state_reset_at"), "cc_rate_limit_state", ["reset_at"], unique=False
    )
    op.create_table(
        "cc_sync_run",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("parent_run_id", sa.Uuid(), nullable=True),
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("filter_hash", sa.String(length=64), nullable=True),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="running", nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "heartbeat_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("pages", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("records", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("odata_count", sa.BigInteger(), nullable=True),
        sa.Column("requests", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("retries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("http_429_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("error_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("wait_s", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("sla_target_s", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'partial')",
            name=op.f("ck_cc_sync_run_status_known"),
        ),
        sa.CheckConstraint(
            "trigger IN ('manual', 'schedule', 'resume', 'retry', 'backfill', 'console', 'demo')",
            name=op.f("ck_cc_sync_run_trigger_known"),
        ),
        sa.CheckConstraint(
            "finished_at IS NULL OR finished_at >= started_at",
            name=op.f("ck_cc_sync_run_finished_after_start"),
        ),
        sa.CheckConstraint(
            "pages >= 0 AND records >= 0 AND requests >= 0 AND retries >= 0 AND http_429_count >= 0 AND error_count >= 0 AND wait_s >= 0",
            name=op.f("ck_cc_sync_run_counters_non_negative"),
        ),
        sa.CheckConstraint(
            "parent_run_id IS NULL OR parent_run_id <> id",
            name=op.f("ck_cc_sync_run_not_own_parent"),
        ),
        sa.CheckConstraint(
            "sla_target_s IS NULL OR sla_target_s > 0",
            name=op.f("ck_cc_sync_run_sla_target_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_sync_run_config_id_cc_api_client_config"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_run_id"],
            ["cc_sync_run.id"],
            name=op.f("fk_cc_sync_run_parent_run_id_cc_sync_run"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["cc_odata_query_template.id"],
            name=op.f("fk_cc_sync_run_template_id_cc_odata_query_template"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_sync_run")),
    )
    op.create_index(op.f("ix_cc_sync_run_started_at"), "cc_sync_run", ["started_at"], unique=False)
    op.create_index(op.f("ix_cc_sync_run_status"), "cc_sync_run", ["status"], unique=False)
    op.create_table(
        "cc_api_request_log",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("endpoint_path", sa.Text(), nullable=False),
        sa.Column(
            "query_params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("body_size", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("attempt_no", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=16), nullable=True),
        sa.CheckConstraint(
            "method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')",
            name=op.f("ck_cc_api_request_log_method_known"),
        ),
        sa.CheckConstraint("url ~* '^https?://'", name=op.f("ck_cc_api_request_log_url_http")),
        sa.CheckConstraint("attempt_no >= 1", name=op.f("ck_cc_api_request_log_attempt_positive")),
        sa.CheckConstraint(
            "body_size >= 0", name=op.f("ck_cc_api_request_log_body_size_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_api_request_log_config_id_cc_api_client_config"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["cc_sync_run.id"], name=op.f("fk_cc_api_request_log_run_id_cc_sync_run")
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["cc_odata_query_template.id"],
            name=op.f("fk_cc_api_request_log_template_id_cc_odata_query_template"),
        ),
        sa.PrimaryKeyConstraint("id", "sent_at", name=op.f("pk_cc_api_request_log")),
        postgresql_partition_by="RANGE (sent_at)",
    )
    op.create_index(
        op.f("ix_cc_api_request_log_endpoint_path_sent_at"),
        "cc_api_request_log",
        ["endpoint_path", "sent_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_cc_api_request_log_query_params"),
        "cc_api_request_log",
        ["query_params"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"query_params": "jsonb_path_ops"},
    )
    op.create_index(
        op.f("ix_cc_api_request_log_run_id_sent_at"),
        "cc_api_request_log",
        ["run_id", "sent_at"],
        unique=False,
    )
    op.execute("CREATE TABLE cc_api_request_log_default PARTITION OF cc_api_request_log DEFAULT")
    op.create_table(
        "cc_pagination_state",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("config_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("filter_hash", sa.String(length=64), nullable=False),
        sa.Column("filter_text", sa.Text(), nullable=True),
        sa.Column("next_skip", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_link", sa.Text(), nullable=True),
        sa.Column("page_size", sa.Integer(), nullable=False),
        sa.Column("odata_count", sa.BigInteger(), nullable=True),
        sa.Column("records_landed", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="idle", nullable=False),
        sa.Column("last_run_id", sa.Uuid(), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('idle', 'running', 'completed', 'failed', 'partial')",
            name=op.f("ck_cc_pagination_state_status_known"),
        ),
        sa.CheckConstraint(
            "length(filter_hash) = 64", name=op.f("ck_cc_pagination_state_filter_hash_sha256")
        ),
        sa.CheckConstraint(
            "next_skip >= 0", name=op.f("ck_cc_pagination_state_next_skip_non_negative")
        ),
        sa.CheckConstraint(
            "odata_count IS NULL OR odata_count >= 0",
            name=op.f("ck_cc_pagination_state_count_non_negative"),
        ),
        sa.CheckConstraint(
            "page_size BETWEEN 1 AND 1000", name=op.f("ck_cc_pagination_state_page_size_range")
        ),
        sa.CheckConstraint(
            "records_landed >= 0", name=op.f("ck_cc_pagination_state_records_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_pagination_state_config_id_cc_api_client_config"),
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["cc_sync_run.id"],
            name=op.f("fk_cc_pagination_state_last_run_id_cc_sync_run"),
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["cc_odata_query_template.id"],
            name=op.f("fk_cc_pagination_state_template_id_cc_odata_query_template"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_pagination_state")),
        sa.UniqueConstraint(
            "config_id",
            "resource_path",
            "filter_hash",
            name=op.f("uq_cc_pagination_state_config_id_resource_path_filter_hash"),
        ),
    )
    op.create_index(
        op.f("ix_cc_pagination_state_last_sync_at"),
        "cc_pagination_state",
        ["last_sync_at"],
        unique=False,
    )
    op.create_table(
        "cc_silver_record",
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("first_run_id", sa.Uuid(), nullable=True),
        sa.Column("last_run_id", sa.Uuid(), nullable=True),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(payload_hash) = 64", name=op.f("ck_cc_silver_record_payload_hash_sha256")
        ),
        sa.CheckConstraint(
            "length(record_key) > 0", name=op.f("ck_cc_silver_record_record_key_not_empty")
        ),
        sa.PrimaryKeyConstraint("resource_path", "record_key", name=op.f("pk_cc_silver_record")),
    )
    op.create_table(
        "cc_api_response_log",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("elapsed_ms", sa.Float(), server_default=sa.text("0"), nullable=False),
        sa.Column("parse_ok", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("validation_errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("odata_count", sa.BigInteger(), nullable=True),
        sa.Column("has_next_link", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "body IS NULL OR body_text IS NULL", name=op.f("ck_cc_api_response_log_one_body_form")
        ),
        sa.CheckConstraint(
            "elapsed_ms >= 0", name=op.f("ck_cc_api_response_log_elapsed_non_negative")
        ),
        sa.CheckConstraint(
            "odata_count IS NULL OR odata_count >= 0",
            name=op.f("ck_cc_api_response_log_count_non_negative"),
        ),
        sa.CheckConstraint(
            "received_at >= sent_at", name=op.f("ck_cc_api_response_log_received_after_sent")
        ),
        sa.CheckConstraint(
            "size_bytes >= 0", name=op.f("ck_cc_api_response_log_size_non_negative")
        ),
        sa.CheckConstraint(
            "status_code BETWEEN 100 AND 599", name=op.f("ck_cc_api_response_log_status_code_http")
        ),
        sa.ForeignKeyConstraint(
            ["request_id", "sent_at"],
            ["cc_api_request_log.id", "cc_api_request_log.sent_at"],
            name=op.f("fk_cc_api_response_log_request_id_sent_at_cc_api_request_log"),
        ),
        sa.PrimaryKeyConstraint("id", "sent_at", name=op.f("pk_cc_api_response_log")),
        sa.UniqueConstraint(
            "request_id", "sent_at", name=op.f("uq_cc_api_response_log_request_id_sent_at")
        ),
        postgresql_partition_by="RANGE (sent_at)",
    )
    op.create_index(
        op.f("ix_cc_api_response_log_headers"),
        "cc_api_response_log",
        ["headers"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"headers": "jsonb_path_ops"},
    )
    op.create_index(
        "ix_cc_api_response_log_next_link",
        "cc_api_response_log",
        [
            sa.literal_column(
                "COALESCE(body ->> '@odata.nextLink', body ->> 'nextPageLink', body ->> 'NextPageLink')"
            )
        ],
        unique=False,
        postgresql_where=sa.text("has_next_link"),
    )
    op.create_index(
        op.f("ix_cc_api_response_log_status_code"),
        "cc_api_response_log",
        ["status_code"],
        unique=False,
    )
    op.execute("CREATE TABLE cc_api_response_log_default PARTITION OF cc_api_response_log DEFAULT")
    op.create_table(
        "cc_error_event",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("endpoint_path", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("config_id", sa.Uuid(), nullable=True),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("request_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_id", sa.Uuid(), nullable=True),
        sa.Column("response_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('timeout', 'connect', 'reset', 'http_429', 'http_500', 'http_502', 'http_503', 'http_504', 'http_400', 'http_401', 'http_403', 'http_404', 'http_409', 'http_501', 'http_other', 'parse', 'validation', 'foreign_next_link', 'secret_unavailable', 'interrupted', 'cancelled', 'db')",
            name=op.f("ck_cc_error_event_kind_known"),
        ),
        sa.CheckConstraint(
            "(request_id IS NULL) = (request_sent_at IS NULL)",
            name=op.f("ck_cc_error_event_request_ref_complete"),
        ),
        sa.CheckConstraint(
            "(response_id IS NULL) = (response_sent_at IS NULL)",
            name=op.f("ck_cc_error_event_response_ref_complete"),
        ),
        sa.CheckConstraint(
            "status_code IS NULL OR status_code BETWEEN 100 AND 599",
            name=op.f("ck_cc_error_event_status_code_http"),
        ),
        sa.ForeignKeyConstraint(
            ["config_id"],
            ["cc_api_client_config.id"],
            name=op.f("fk_cc_error_event_config_id_cc_api_client_config"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id", "request_sent_at"],
            ["cc_api_request_log.id", "cc_api_request_log.sent_at"],
            name=op.f("fk_cc_error_event_request_id_request_sent_at_cc_api_request_log"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id", "response_sent_at"],
            ["cc_api_response_log.id", "cc_api_response_log.sent_at"],
            name=op.f("fk_cc_error_event_response_id_response_sent_at_cc_api_response_log"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["cc_sync_run.id"], name=op.f("fk_cc_error_event_run_id_cc_sync_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_error_event")),
    )
    op.create_index(
        op.f("ix_cc_error_event_occurred_at"), "cc_error_event", ["occurred_at"], unique=False
    )
    op.create_index(
        op.f("ix_cc_error_event_run_id_occurred_at"),
        "cc_error_event",
        ["run_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "cc_schema_validation",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("response_id", sa.Uuid(), nullable=False),
        sa.Column("response_sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.Column("resource_path", sa.Text(), nullable=False),
        sa.Column("schema_name", sa.String(length=100), nullable=False),
        sa.Column("schema_version", sa.String(length=40), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("records_checked", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("records_invalid", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("errors_sample", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("drift", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("shape_fingerprint", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "records_checked >= 0 AND records_invalid >= 0 AND records_invalid <= records_checked",
            name=op.f("ck_cc_schema_validation_counts_consistent"),
        ),
        sa.ForeignKeyConstraint(
            ["response_id", "response_sent_at"],
            ["cc_api_response_log.id", "cc_api_response_log.sent_at"],
            name=op.f("fk_cc_schema_validation_response_id_response_sent_at_cc_api_response_log"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["cc_sync_run.id"], name=op.f("fk_cc_schema_validation_run_id_cc_sync_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cc_schema_validation")),
    )
    op.create_index(
        op.f("ix_cc_schema_validation_resource_path_checked_at"),
        "cc_schema_validation",
        ["resource_path", "checked_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_cc_schema_validation_resource_path_checked_at"), table_name="cc_schema_validation"
    )
    op.drop_table("cc_schema_validation")
    op.drop_index(op.f("ix_cc_error_event_run_id_occurred_at"), table_name="cc_error_event")
    op.drop_index(op.f("ix_cc_error_event_occurred_at"), table_name="cc_error_event")
    op.drop_table("cc_error_event")
    op.drop_index(op.f("ix_cc_api_response_log_status_code"), table_name="cc_api_response_log")
    op.drop_index(
        "ix_cc_api_response_log_next_link",
        table_name="cc_api_response_log",
        postgresql_where=sa.text("has_next_link"),
    )
    op.drop_index(
        op.f("ix_cc_api_response_log_headers"),
        table_name="cc_api_response_log",
        postgresql_using="gin",
        postgresql_ops={"headers": "jsonb_path_ops"},
    )
    op.drop_table("cc_api_response_log")
    op.drop_table("cc_silver_record")
    op.drop_index(op.f("ix_cc_pagination_state_last_sync_at"), table_name="cc_pagination_state")
    op.drop_table("cc_pagination_state")
    op.drop_index(op.f("ix_cc_api_request_log_run_id_sent_at"), table_name="cc_api_request_log")
    op.drop_index(
        op.f("ix_cc_api_request_log_query_params"),
        table_name="cc_api_request_log",
        postgresql_using="gin",
        postgresql_ops={"query_params": "jsonb_path_ops"},
    )
    op.drop_index(
        op.f("ix_cc_api_request_log_endpoint_path_sent_at"), table_name="cc_api_request_log"
    )
    op.drop_table("cc_api_request_log")
    op.drop_index(op.f("ix_cc_sync_run_status"), table_name="cc_sync_run")
    op.drop_index(op.f("ix_cc_sync_run_started_at"), table_name="cc_sync_run")
    op.drop_table("cc_sync_run")
    op.drop_index(op.f("ix_cc_rate_limit_state_reset_at"), table_name="cc_rate_limit_state")
    op.drop_table("cc_rate_limit_state")
    op.drop_table("cc_odata_query_template")
    op.drop_table("cc_api_client_config")
