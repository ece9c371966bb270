"""Redaction for auditors: the policy per resource and the key the auditor's views use."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .base import AuditMixin, Base, uuid_pk

__all__ = ["RedactionKey", "RedactionPolicy"]


class RedactionPolicy(AuditMixin, Base):
    """The JSON paths redacted in one resource's records (``paths`` sorted; ``steps`` their
    parsed form, which the SQL side walks)."""

    __tablename__ = "cc_redaction_policy"
    __table_args__ = (
        UniqueConstraint("config_id", "resource_path"),
        CheckConstraint(
            "jsonb_typeof(paths) = 'array' AND jsonb_array_length(paths) > 0",
            name="paths_not_empty",
        ),
        CheckConstraint(
            "jsonb_typeof(steps) = 'array'"
            " AND jsonb_array_length(steps) = jsonb_array_length(paths)",
            name="steps_match_paths",
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    config_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cc_api_client_config.id", ondelete="CASCADE")
    )
    resource_path: Mapped[str] = mapped_column(Text)
    paths: Mapped[list[str]] = mapped_column(JSONB)
    steps: Mapped[list[Any]] = mapped_column(JSONB)


class RedactionKey(Base):
    """The one row of HMAC pads the auditor's views fingerprint with; readable by its owner
    (and superusers), never by the auditor role."""

    __tablename__ = "cc_redaction_key"
    __table_args__ = (
        CheckConstraint("id", name="single_row"),
        CheckConstraint("octet_length(ipad) = 64 AND octet_length(opad) = 64", name="pads_64"),
    )

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    key_id: Mapped[str] = mapped_column(String(16))
    ipad: Mapped[bytes] = mapped_column(LargeBinary)
    opad: Mapped[bytes] = mapped_column(LargeBinary)
    installed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
    installed_by: Mapped[str] = mapped_column(String(100))
