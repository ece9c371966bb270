"""Tamper evidence for the audit trail: chain heads and their seals (migration 0018).

Each run keeps two hash chains, one over its request rows and one over its responses (rows
outside any run chain per batch). Every log row carries its chain's id, its position and its
link: SHA-256 of the previous link and of the row's canonical encoding
(``store/audit_chain.py``). ``cc_audit_chain`` holds each chain's head while it grows; its row
lock orders the chain's writers. ``cc_audit_seal`` holds, per ended chain, both heads with an
HMAC-SHA-256 under a key kept outside the database, itself chained per config in the order
runs end (``config_seq``, ``prev_seal``). ``cc_audit_amendment`` (migration 0021) records a
chained row changed on purpose (``db scrub``), signed under the same key.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

__all__ = ["CHAIN_LOGS", "AuditAmendment", "AuditChain", "AuditSeal"]

CHAIN_LOGS = ("request", "response")


class AuditChain(Base):
    """The growing head of one chain (a run's, or a batch's outside runs)."""

    __tablename__ = "cc_audit_chain"
    __table_args__ = (
        PrimaryKeyConstraint("chain_id", "log"),
        CheckConstraint("log IN ('request', 'response')", name="log_known"),
        CheckConstraint("rows >= 0", name="rows_non_negative"),
    )

    chain_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    log: Mapped[str] = mapped_column(String(10))
    config_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    rows: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[bytes] = mapped_column(LargeBinary)
    last_digest: Mapped[bytes] = mapped_column(LargeBinary)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # its first row's
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(  # when chaining began, for this chain
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )


class AuditSeal(Base):
    """A chain's heads at its end, sealed. Rows are only ever inserted."""

    __tablename__ = "cc_audit_seal"
    __table_args__ = (
        UniqueConstraint("config_id", "config_seq"),
        Index(None, "sealed_at"),
        CheckConstraint("config_seq >= 1", name="seq_positive"),
        CheckConstraint("request_rows >= 0 AND response_rows >= 0", name="rows_non_negative"),
        CheckConstraint(
            "sealed_by IN ('run', 'sweep', 'batch', 'backfill')", name="sealed_by_known"
        ),
    )

    chain_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    config_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    config_seq: Mapped[int] = mapped_column(BigInteger)
    request_rows: Mapped[int] = mapped_column(BigInteger)
    request_head: Mapped[bytes] = mapped_column(LargeBinary)
    response_rows: Mapped[int] = mapped_column(BigInteger)
    response_head: Mapped[bytes] = mapped_column(LargeBinary)
    first_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    prev_seal: Mapped[bytes | None] = mapped_column(LargeBinary)
    seal: Mapped[bytes] = mapped_column(LargeBinary)
    key_id: Mapped[str] = mapped_column(String(16))
    sealed_by: Mapped[str] = mapped_column(String(10))
    sealed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )


class AuditAmendment(Base):
    """A chained row changed on purpose: its digest as chained, before and after, and why.
    Rows are only ever inserted; ``seal`` is an HMAC-SHA-256 under the seal key."""

    __tablename__ = "cc_audit_amendment"
    __table_args__ = (
        CheckConstraint("log IN ('request', 'response')", name="log_known"),
        Index(None, "row_id", "sent_at"),
        Index(None, "chain_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=text("gen_random_uuid()")
    )
    log: Mapped[str] = mapped_column(String(10))
    row_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    chain_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    chained_digest: Mapped[bytes] = mapped_column(LargeBinary)  # as the chain's link holds it
    before_digest: Mapped[bytes] = mapped_column(LargeBinary)
    after_digest: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    action_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # cc_operator_action
    key_id: Mapped[str] = mapped_column(String(16))
    seal: Mapped[bytes] = mapped_column(LargeBinary)
    amended_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )
