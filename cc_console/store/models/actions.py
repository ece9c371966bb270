"""Who did what: one row per thing an operator asked cc-console for."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, uuid_pk

__all__ = ["ACTION_SOURCES", "OperatorAction"]

ACTION_SOURCES = ("cli", "console")


class OperatorAction(Base):
    """An operator's action: who (database role and OS user, from which host, through the CLI
    or the console), when (the database's clock), what, and the ids involved (migration 0016).
    Rows are only ever inserted."""

    __tablename__ = "cc_operator_action"
    __table_args__ = (
        CheckConstraint("source IN ('cli', 'console')", name="source_known"),
        Index("ix_cc_operator_action_at", "at"),
        Index("ix_cc_operator_action_run", "run_id", postgresql_where=text("run_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )
    db_role: Mapped[str] = mapped_column(String(100), server_default=text("current_user"))
    os_user: Mapped[str] = mapped_column(String(100))
    host: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    config_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    template_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the run acted on
    job_id: Mapped[int | None] = mapped_column(BigInteger)  # the job queued for the workers
    detail: Mapped[Any] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
