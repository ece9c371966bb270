"""The Silver layer: one row per record, whatever number of times it was fetched."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, timestamp, uuid_pk

__all__ = ["RunSeenKey", "SilverHistory", "SilverRecord"]


class SilverRecord(Base):
    """A deduplicated record of one tenant, keyed by (config_id, resource_path, record_key).

    ``config_id`` is no declared foreign key, like the lineage columns below: the engine
    writes it from the run's own config in the landing transaction."""

    __tablename__ = "cc_silver_record"
    __table_args__ = (
        CheckConstraint("length(record_key) > 0", name="record_key_not_empty"),
        CheckConstraint("length(payload_hash) = 64", name="payload_hash_sha256"),
        CheckConstraint(
            "(last_response_id IS NULL) = (last_response_sent_at IS NULL)",
            name="response_ref_complete",
        ),
    )

    config_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    resource_path: Mapped[str] = mapped_column(Text, primary_key=True)
    record_key: Mapped[str] = mapped_column(Text, primary_key=True)
    payload: Mapped[Any] = mapped_column(JSONB)
    payload_hash: Mapped[str] = mapped_column(String(64))
    # Lineage columns (runs and response) are not declared foreign keys: the per-row checks
    # cost more than the upsert itself (10 ms per 1000 records for the two run keys, 48 ms
    # for the partitioned response log). The engine writes them in the landing transaction,
    # runs are never deleted, retention clears response links, and tests check the links.
    first_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    first_seen_at: Mapped[datetime] = timestamp()
    last_seen_at: Mapped[datetime] = timestamp()
    # the response whose page last wrote this record, and whether the record validated
    last_response_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_response_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # soft delete: a full refresh that detects deletions found the record gone from the
    # server (NULL again when it reappears)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class RunSeenKey(Base):
    """The keys a full refresh that detects deletions saw, per resume chain (named by the
    run that began it): narrow, written with each page, dropped once the chain ends."""

    __tablename__ = "cc_run_seen_key"

    chain_run_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    record_key: Mapped[str] = mapped_column(Text, primary_key=True)


class SilverHistory(Base):
    """A replaced version of a Silver row (templates with ``--history``): its payload, when it
    landed and when it was replaced, and the runs and responses of both. Written by the
    trigger ``cc_silver_record_history`` (migration 0015), read by the ``…__history`` view."""

    __tablename__ = "cc_silver_history"
    __table_args__ = (
        Index(
            "ix_cc_silver_history_record", "config_id", "resource_path", "record_key", "valid_to"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    config_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_path: Mapped[str] = mapped_column(Text)
    record_key: Mapped[str] = mapped_column(Text)
    payload: Mapped[Any] = mapped_column(JSONB)
    payload_hash: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # lineage, as Silver's: no declared foreign keys, cleared by retention
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    response_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    response_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replaced_by_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    replaced_by_response_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    replaced_by_response_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
