"""Client configurations and OData query templates."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..vocabulary import AUTH_SCHEME_PATTERN, BACKOFF_JITTER, DIALECTS, PAGING_MODES, in_list
from .base import AuditMixin, Base, uuid_pk

__all__ = ["ApiClientConfig", "OdataQueryTemplate"]


class ApiClientConfig(AuditMixin, Base):
    """How to reach one API tenant: URL, secret reference, timeouts, retry and rate policy."""

    __tablename__ = "cc_api_client_config"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("base_url ~* '^https?://[^/]+'", name="base_url_http"),
        CheckConstraint("secret_ref ~ '^(env|file):.+'", name="secret_ref_is_reference"),
        CheckConstraint("length(name) > 0", name="name_not_empty"),
        CheckConstraint("length(auth_header) > 0", name="auth_header_not_empty"),
        CheckConstraint(
            "connect_timeout_s > 0 AND read_timeout_s > 0 AND total_timeout_s > 0",
            name="timeouts_positive",
        ),
        CheckConstraint("max_retries >= 0", name="max_retries_non_negative"),
        CheckConstraint(
            "backoff_base_s > 0 AND backoff_max_s >= backoff_base_s", name="backoff_range"
        ),
        CheckConstraint(in_list("backoff_jitter", BACKOFF_JITTER), name="backoff_jitter_known"),
        CheckConstraint("retry_after_cap_s > 0", name="retry_after_cap_positive"),
        CheckConstraint("default_page_size BETWEEN 1 AND 1000", name="page_size_range"),
        CheckConstraint(
            "max_requests_per_second IS NULL OR max_requests_per_second > 0",
            name="max_rps_positive",
        ),
        CheckConstraint("jsonb_typeof(masked_headers) = 'array'", name="masked_headers_array"),
        CheckConstraint(
            "legacy_url IS NULL OR legacy_url ~ '^(env|file):.+'"
            " OR (legacy_url ~* '^postgres(ql)?://' AND legacy_url !~ '^[^/]*//[^/@]*:[^/@]*@')",
            name="legacy_url_safe",
        ),
        CheckConstraint(
            "NOT dual_write_legacy OR legacy_url IS NOT NULL", name="dual_write_has_url"
        ),
        CheckConstraint(in_list("dialect", DIALECTS), name="dialect_known"),
        CheckConstraint("parse_retries BETWEEN 0 AND 10", name="parse_retries_range"),
        CheckConstraint(f"auth_scheme ~ '{AUTH_SCHEME_PATTERN}'", name="auth_scheme_token"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(Text)
    auth_header: Mapped[str] = mapped_column(String(100), server_default="X-ApiKey")
    # "Bearer": the header carries "Bearer <key>" (the key itself stays free of spaces)
    auth_scheme: Mapped[str | None] = mapped_column(String(40))
    secret_ref: Mapped[str] = mapped_column(Text)
    connect_timeout_s: Mapped[float] = mapped_column(Float, server_default=text("5"))
    read_timeout_s: Mapped[float] = mapped_column(Float, server_default=text("30"))
    total_timeout_s: Mapped[float] = mapped_column(Float, server_default=text("120"))
    max_retries: Mapped[int] = mapped_column(Integer, server_default=text("5"))
    backoff_base_s: Mapped[float] = mapped_column(Float, server_default=text("0.5"))
    backoff_max_s: Mapped[float] = mapped_column(Float, server_default=text("30"))
    backoff_jitter: Mapped[str] = mapped_column(String(10), server_default="full")
    retry_after_cap_s: Mapped[float] = mapped_column(Float, server_default=text("120"))
    retry_http_500: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    default_page_size: Mapped[int] = mapped_column(Integer, server_default=text("100"))
    max_requests_per_second: Mapped[float | None] = mapped_column(Float)
    masked_headers: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # cutover: mirror every attempt to the legacy api_call_log (see migrate/mirror.py)
    dual_write_legacy: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    legacy_url: Mapped[str | None] = mapped_column(Text)  # URL without password, or env:/file:
    # clinical-conductor: the vendor's built-in resource schemas; odata4: keys and types from
    # $metadata; generic: keys given with --key
    dialect: Mapped[str] = mapped_column(String(30), server_default="clinical-conductor")
    ca_bundle: Mapped[str | None] = mapped_column(Text)  # a CA bundle file for TLS
    # how often a complete body that is no JSON is fetched again before a run stops on parse
    parse_retries: Mapped[int] = mapped_column(Integer, server_default=text("2"))
    # the zone a timestamp without an offset is read in (incremental sync's watermarks)
    server_timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    # whether the engines of this config share rate-limit state and pacing (off: A/B runs)
    coordinate_rate_limits: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class OdataQueryTemplate(AuditMixin, Base):
    """A named, reusable query against one resource: canonical params and their hash."""

    __tablename__ = "cc_odata_query_template"
    __table_args__ = (
        UniqueConstraint("config_id", "resource_path", "params_hash"),
        CheckConstraint("resource_path LIKE '/%'", name="resource_path_absolute"),
        CheckConstraint("length(params_hash) = 64", name="params_hash_sha256"),
        CheckConstraint("length(filter_hash) = 64", name="filter_hash_sha256"),
        CheckConstraint("jsonb_typeof(params) = 'object'", name="params_object"),
        CheckConstraint(
            "schedule_interval_s IS NULL OR schedule_interval_s > 0", name="schedule_positive"
        ),
        CheckConstraint("sla_target_s IS NULL OR sla_target_s > 0", name="sla_target_positive"),
        CheckConstraint(
            "record_key IS NULL OR (jsonb_typeof(record_key) = 'array'"
            " AND jsonb_array_length(record_key) > 0)",
            name="record_key_names",
        ),
        CheckConstraint(in_list("paging", PAGING_MODES), name="paging_known"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    config_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cc_api_client_config.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    resource_path: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB)
    params_hash: Mapped[str] = mapped_column(String(64))
    filter_hash: Mapped[str] = mapped_column(String(64))
    schedule_interval_s: Mapped[int | None] = mapped_column(Integer)
    sla_target_s: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # the key properties in order (composite keys allowed), and property -> Edm type, from
    # $metadata or --key; NULL: the dialect's built-in schema gives the key
    record_key: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    record_schema: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    paging: Mapped[str] = mapped_column(String(10), server_default="auto")
    # the replication key of an incremental template (NULL: full sync every run):
    # {"field", "edm", "lookback_s", "include_nulls"}
    incremental: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    # keep the versions Silver rows of its resource are replaced by (cc_silver_history)
    keep_history: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    # refresh the typed Silver views of its resource after each successful run
    refresh_views: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
