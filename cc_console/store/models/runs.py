"""Sync runs and the typed error events they raise."""

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
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..vocabulary import ERROR_KINDS, RUN_STATUSES, RUN_TRIGGERS, SYNC_MODES, in_list
from .base import Base, timestamp, uuid_pk

__all__ = ["ErrorEvent", "SyncRun"]


class SyncRun(Base):
    """One execution of a sync: who started it, how it ended, what it landed."""

    __tablename__ = "cc_sync_run"
    __table_args__ = (
        Index(None, "started_at"),
        Index(None, "status"),
        CheckConstraint(in_list("status", RUN_STATUSES), name="status_known"),
        CheckConstraint(in_list("trigger", RUN_TRIGGERS), name="trigger_known"),
        CheckConstraint(in_list("sync_mode", SYNC_MODES), name="sync_mode_known"),
        CheckConstraint(
            "finished_at IS NULL OR finished_at >= started_at", name="finished_after_start"
        ),
        CheckConstraint(
            "pages >= 0 AND records >= 0 AND requests >= 0 AND retries >= 0"
            " AND http_429_count >= 0 AND error_count >= 0 AND wait_s >= 0",
            name="counters_non_negative",
        ),
        CheckConstraint("sla_target_s IS NULL OR sla_target_s > 0", name="sla_target_positive"),
        CheckConstraint("parent_run_id IS NULL OR parent_run_id <> id", name="not_own_parent"),
        CheckConstraint(
            "(legacy_writes IS NULL) = (legacy_write_failures IS NULL)"
            " AND COALESCE(legacy_writes, 0) >= 0 AND COALESCE(legacy_write_failures, 0) >= 0",
            name="legacy_counts",
        ),
        CheckConstraint(
            "records_landed >= 0 AND records_rejected >= 0"
            " AND COALESCE(chain_records_landed, 0) >= 0"
            " AND ((records_inserted IS NULL AND records_updated IS NULL"
            " AND records_unchanged IS NULL) OR (records_inserted >= 0 AND records_updated >= 0"
            " AND records_unchanged >= 0 AND records_landed"
            " = records_inserted + records_updated + records_unchanged))",
            name="records_split",
        ),
        CheckConstraint("auto_resumes >= 0", name="auto_resumes_non_negative"),
        Index("ix_cc_sync_run_job_id", "job_id", postgresql_where=text("job_id IS NOT NULL")),
        # a template's latest run, as the workers' scheduler asks every tick
        Index("ix_cc_sync_run_template_started", "template_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    config_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cc_api_client_config.id"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_odata_query_template.id"))
    parent_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_sync_run.id"))
    resource_path: Mapped[str] = mapped_column(Text)
    filter_hash: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(20))
    # full, incremental (from the watermark) or full_refresh (an incremental template read
    # whole once); keyset_from: what an incremental run asked for first
    sync_mode: Mapped[str] = mapped_column(String(20), server_default="full")
    keyset_from: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), server_default="running")
    started_at: Mapped[datetime] = timestamp()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = timestamp()
    pages: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    records: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))  # fetched
    # landed = inserted + updated + unchanged (counted by the landing itself); rejected: no key
    records_landed: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    records_inserted: Mapped[int | None] = mapped_column(BigInteger, server_default=text("0"))
    records_updated: Mapped[int | None] = mapped_column(BigInteger, server_default=text("0"))
    records_unchanged: Mapped[int | None] = mapped_column(BigInteger, server_default=text("0"))
    records_rejected: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # Silver rows a full refresh marked deleted (NULL: the run did not detect deletions)
    records_deleted: Mapped[int | None] = mapped_column(BigInteger)
    # the cursor's landed count since its last restart, when the run ended
    chain_records_landed: Mapped[int | None] = mapped_column(BigInteger)
    odata_count: Mapped[int | None] = mapped_column(BigInteger)
    requests: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    retries: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    http_429_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # dual-write to the legacy store (NULL: the config did not dual-write during this run)
    legacy_writes: Mapped[int | None] = mapped_column(Integer)
    legacy_write_failures: Mapped[int | None] = mapped_column(Integer)
    wait_s: Mapped[float] = mapped_column(Float, server_default=text("0"))
    sla_target_s: Mapped[int | None] = mapped_column(Integer)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(Text)
    # the worker's procrastinate job that ran it (NULL: started inline), and how many resumes
    # a worker made without an operator in its chain up to it
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    auto_resumes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # the operator action that started it here (migration 0016; a queued one: by job_id)
    action_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("cc_operator_action.id", ondelete="SET NULL")
    )


class ErrorEvent(Base):
    """A typed failure, linked to the run, request and response it came from."""

    __tablename__ = "cc_error_event"
    __table_args__ = (
        Index(None, "occurred_at"),
        Index(None, "run_id", "occurred_at"),
        # an attempt's outcome when it has no response (the live pane, the audit browser)
        Index(
            None,
            "request_id",
            "request_sent_at",
            postgresql_where=text("request_id IS NOT NULL"),
        ),
        CheckConstraint(in_list("kind", ERROR_KINDS), name="kind_known"),
        CheckConstraint(
            "status_code IS NULL OR status_code BETWEEN 100 AND 599", name="status_code_http"
        ),
        CheckConstraint(
            "(request_id IS NULL) = (request_sent_at IS NULL)", name="request_ref_complete"
        ),
        CheckConstraint(
            "(response_id IS NULL) = (response_sent_at IS NULL)", name="response_ref_complete"
        ),
        ForeignKeyConstraint(
            ["request_id", "request_sent_at"],
            ["cc_api_request_log.id", "cc_api_request_log.sent_at"],
        ),
        ForeignKeyConstraint(
            ["response_id", "response_sent_at"],
            ["cc_api_response_log.id", "cc_api_response_log.sent_at"],
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    occurred_at: Mapped[datetime] = timestamp()
    kind: Mapped[str] = mapped_column(String(30))
    retryable: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    endpoint_path: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    config_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_api_client_config.id"))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_sync_run.id"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    request_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    response_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
