"""Which `cc-console worker` process each procrastinate worker belongs to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

__all__ = ["WorkerName"]


class WorkerName(Base):
    """A procrastinate worker's process: its ``--name``, role, host and pid (migration 0017).
    No foreign key: procrastinate prunes its own rows; ``db maintain`` prunes these."""

    __tablename__ = "cc_worker"

    procrastinate_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )
