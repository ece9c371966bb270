"""Live engine state: pagination cursors and rate-limit scopes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..vocabulary import CURSOR_STATUSES, in_list
from .base import Base, timestamp, uuid_pk

__all__ = ["PaginationState", "RateLimitState"]


class PaginationState(Base):
    """The cursor of one resource + filter: where the next page starts."""

    __tablename__ = "cc_pagination_state"
    __table_args__ = (
        UniqueConstraint("config_id", "resource_path", "filter_hash"),
        Index(None, "last_sync_at"),
        Index(None, "owner_run_id"),
        CheckConstraint("lease_token >= 0", name="lease_token_non_negative"),
        CheckConstraint(in_list("status", CURSOR_STATUSES), name="status_known"),
        CheckConstraint("next_skip >= 0", name="next_skip_non_negative"),
        CheckConstraint("page_size BETWEEN 1 AND 1000", name="page_size_range"),
        CheckConstraint("odata_count IS NULL OR odata_count >= 0", name="count_non_negative"),
        CheckConstraint("records_landed >= 0", name="records_non_negative"),
        CheckConstraint("length(filter_hash) = 64", name="filter_hash_sha256"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    config_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cc_api_client_config.id"))
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_odata_query_template.id"))
    resource_path: Mapped[str] = mapped_column(Text)
    filter_hash: Mapped[str] = mapped_column(String(64))
    filter_text: Mapped[str | None] = mapped_column(Text)
    next_skip: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    next_link: Mapped[str | None] = mapped_column(Text)
    page_size: Mapped[int] = mapped_column(Integer)
    odata_count: Mapped[int | None] = mapped_column(BigInteger)
    records_landed: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    records_rejected: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # what produced the position: order, page size, paging mode, select (a change restarts)
    shape: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    # keyset paging (incremental templates): the (w, k) of the last landed page, and of the
    # last page of the last run whose cursor completed — {"field", "w", "k"}
    keyset: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    watermark: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    status: Mapped[str] = mapped_column(String(20), server_default="idle")
    last_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_sync_run.id"))
    # the lease: the one run that may move the cursor, its fencing token (bumped on every
    # takeover) and until when it holds without renewing (NULL: released)
    owner_run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cc_sync_run.id"))
    lease_token: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = timestamp()
    updated_at: Mapped[datetime] = timestamp()


class RateLimitState(Base):
    """What the server last said about one rate-limit scope (``global`` or ``endpoint:<path>``)."""

    __tablename__ = "cc_rate_limit_state"
    __table_args__ = (
        UniqueConstraint("config_id", "scope"),
        Index(None, "reset_at"),
        CheckConstraint("scope = 'global' OR scope LIKE 'endpoint:/%'", name="scope_known"),
        CheckConstraint('"limit" IS NULL OR "limit" >= 0', name="limit_non_negative"),
        CheckConstraint("remaining IS NULL OR remaining >= 0", name="remaining_non_negative"),
        CheckConstraint("window_s IS NULL OR window_s > 0", name="window_positive"),
        CheckConstraint("burst IS NULL OR burst >= 0", name="burst_non_negative"),
        CheckConstraint("ceiling_rps IS NULL OR ceiling_rps > 0", name="ceiling_positive"),
        CheckConstraint("slow_start_rps IS NULL OR slow_start_rps > 0", name="slow_start_positive"),
        CheckConstraint(
            "sent >= 0 AND throttled >= 0 AND confirmations >= 0", name="counts_non_negative"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    config_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cc_api_client_config.id"))
    scope: Mapped[str] = mapped_column(Text)
    limit: Mapped[int | None] = mapped_column(Integer)
    # the policy the server states: ``limit`` requests per ``window_s``, with a ``burst``
    window_s: Mapped[float | None] = mapped_column(Float)
    burst: Mapped[int | None] = mapped_column(Integer)
    remaining: Mapped[int | None] = mapped_column(Integer)
    reset_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retry_after_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_429_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # pacing: the earliest moment the next request of this scope may leave (shared by engines)
    next_request_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the learned rate (store/rate_estimate.py): its curve starts at the last decrease
    ceiling_rps: Mapped[float | None] = mapped_column(Float)
    slow_start_rps: Mapped[float | None] = mapped_column(Float)
    confirmations: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    curve_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    throttled: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = timestamp()
