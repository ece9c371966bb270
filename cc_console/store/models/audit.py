"""The Bronze audit trail: every request attempt, its response, and schema checks.

Request and response logs are range-partitioned by month on ``sent_at``. A response
carries its request's ``sent_at`` as its own partition key, so a request and its response
always live in the same month and retention can drop a month as one unit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..vocabulary import HTTP_METHODS, in_list
from .base import Base, timestamp

__all__ = ["ApiRequestLog", "ApiResponseLog", "PARTITIONED_TABLES", "SchemaValidation"]

PARTITIONED_TABLES = ("cc_api_request_log", "cc_api_response_log")

NEXT_LINK_EXPRESSION = (
    "COALESCE(body ->> '@odata.nextLink', body ->> 'nextPageLink', body ->> 'NextPageLink')"
)


def _uuid() -> Mapped[uuid.UUID]:
    return mapped_column(
        Uuid, primary_key=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")
    )


class ApiRequestLog(Base):
    """One attempt, written and committed before its bytes are sent."""

    __tablename__ = "cc_api_request_log"
    __table_args__ = (
        Index(None, "run_id", "sent_at"),
        Index(None, "chain_id", "chain_seq"),
        Index(None, "endpoint_path", "sent_at"),
        Index("ix_cc_api_request_log_sent_at", "sent_at"),
        Index(
            None,
            "query_params",
            postgresql_using="gin",
            postgresql_ops={"query_params": "jsonb_path_ops"},
        ),
        CheckConstraint(in_list("method", HTTP_METHODS), name="method_known"),
        CheckConstraint("attempt_no >= 1", name="attempt_positive"),
        CheckConstraint("body_size >= 0", name="body_size_non_negative"),
        CheckConstraint("url ~* '^https?://'", name="url_http"),
        {"postgresql_partition_by": "RANGE (sent_at)"},
    )

    id: Mapped[uuid.UUID] = _uuid()
    sent_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=text("now()")
    )
    config_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cc_api_client_config.id"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_sync_run.id"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_odata_query_template.id"))
    method: Mapped[str] = mapped_column(String(10))
    url: Mapped[str] = mapped_column(Text)
    endpoint_path: Mapped[str] = mapped_column(Text)
    query_params: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    body: Mapped[str | None] = mapped_column(Text)
    body_size: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    attempt_no: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    key_fingerprint: Mapped[str | None] = mapped_column(String(16))
    chain_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # see models/chains.py
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes | None] = mapped_column(LargeBinary)


class ApiResponseLog(Base):
    """What came back for one request (at most one row per request)."""

    __tablename__ = "cc_api_response_log"
    __table_args__ = (
        UniqueConstraint("request_id", "sent_at"),
        ForeignKeyConstraint(
            ["request_id", "sent_at"], ["cc_api_request_log.id", "cc_api_request_log.sent_at"]
        ),
        Index(None, "status_code"),
        Index(None, "chain_id", "chain_seq"),
        Index(
            None, "headers", postgresql_using="gin", postgresql_ops={"headers": "jsonb_path_ops"}
        ),
        Index("ix_cc_api_response_log_unparsed", "sent_at", postgresql_where=text("NOT parse_ok")),
        Index("ix_cc_api_response_log_status_sent", "status_code", "sent_at"),
        Index(
            "ix_cc_api_response_log_next_link",
            text(NEXT_LINK_EXPRESSION),
            postgresql_where=text("has_next_link"),
        ),
        CheckConstraint("status_code BETWEEN 100 AND 599", name="status_code_http"),
        CheckConstraint("size_bytes >= 0", name="size_non_negative"),
        CheckConstraint("elapsed_ms >= 0", name="elapsed_non_negative"),
        CheckConstraint("received_at >= sent_at", name="received_after_sent"),
        CheckConstraint("body IS NULL OR body_text IS NULL", name="one_body_form"),
        CheckConstraint("odata_count IS NULL OR odata_count >= 0", name="count_non_negative"),
        {"postgresql_partition_by": "RANGE (sent_at)"},
    )

    id: Mapped[uuid.UUID] = _uuid()
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    received_at: Mapped[datetime] = timestamp()
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    content_type: Mapped[str | None] = mapped_column(Text)
    body: Mapped[Any | None] = mapped_column(JSONB)
    body_text: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    elapsed_ms: Mapped[float] = mapped_column(Float, server_default=text("0"))
    parse_ok: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    validation_errors: Mapped[Any | None] = mapped_column(JSONB)
    odata_count: Mapped[int | None] = mapped_column(BigInteger)
    has_next_link: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    chain_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    chain_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    # the engine digested the body as canonical JSON (NULL: its JSONB text; migration 0020)
    chain_canonical_body: Mapped[bool | None] = mapped_column(Boolean)


class SchemaValidation(Base):
    """The outcome of checking one response against a resource schema, with drift."""

    __tablename__ = "cc_schema_validation"
    __table_args__ = (
        Index(None, "resource_path", "checked_at"),
        ForeignKeyConstraint(
            ["response_id", "response_sent_at"],
            ["cc_api_response_log.id", "cc_api_response_log.sent_at"],
        ),
        CheckConstraint(
            "records_checked >= 0 AND records_invalid >= 0 AND records_invalid <= records_checked",
            name="counts_consistent",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid()
    checked_at: Mapped[datetime] = timestamp()
    response_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    response_sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_sync_run.id"))
    resource_path: Mapped[str] = mapped_column(Text)
    schema_name: Mapped[str] = mapped_column(String(100))
    schema_version: Mapped[str] = mapped_column(String(40))
    ok: Mapped[bool] = mapped_column(Boolean)
    records_checked: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    records_invalid: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    errors_sample: Mapped[Any | None] = mapped_column(JSONB)
    drift: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    shape_fingerprint: Mapped[str | None] = mapped_column(String(64))
