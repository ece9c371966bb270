"""The one configuration object: every setting comes from here (env prefix ``CC_``)."""

from __future__ import annotations

import getpass
from pathlib import Path

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "current_user", "load_settings"]


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("cc-console", appauthor=False))


class Settings(BaseSettings):
    """Process-wide settings read from the environment (``CC_*``) and an optional ``.env``."""

    model_config = SettingsConfigDict(env_prefix="CC_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, description="Any PostgreSQL 14+ URL; unset means the embedded server."
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    embedded_database: str = Field(default="cc_console", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    auto_migrate: bool = True
    log_level: str = Field(default="WARNING")
    user: str | None = Field(default=None, description="Name recorded in created_by/updated_by.")
    theme: str = Field(default="textual-dark", description="Console theme, e.g. ansi-dark.")
    cursor_lease_s: float = Field(
        default=20.0,
        ge=1.0,
        le=600.0,
        description="How long a run owns its cursor without renewing (renewed every quarter)."
        " A killed run's cursor is free again after this long.",
    )
    db_outage_budget_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="How long a run waits out a database outage before it gives up (exit 2).",
    )
    worker_tick_s: int = Field(
        default=5,
        description="How often the workers' scheduler looks for due templates and runs to"
        " resume (seconds; a divisor of 60).",
    )
    worker_heartbeat_s: float = Field(
        default=10.0,
        ge=0.2,
        le=300.0,
        description="A worker's heartbeat; one silent for three beats is dead and its jobs"
        " are failed, so their runs can be resumed elsewhere.",
    )
    worker_max_auto_resumes: int = Field(
        default=5,
        ge=0,
        le=100,
        description="How many times workers resume a run chain by themselves (0: never).",
    )
    worker_resume_delay_s: float = Field(
        default=30.0,
        ge=0.0,
        le=86400.0,
        description="The first automatic resume waits this long, each next one twice as long.",
    )
    keymap_file: Path | None = Field(
        default=None, description="TOML of binding id = key; default <data_dir>/keymap.toml."
    )
    audit_seal_key_ref: str | None = Field(
        default=None,
        description="Secret reference (env:NAME or file:/path) of the key that seals the"
        " audit chains; default file:<data_dir>/audit-seal.key, created on first use.",
    )
    audit_anchor_file: Path | None = Field(
        default=None,
        description="Where db maintain and audit verify append the chains' heads (keep it"
        " off the database's host); default <data_dir>/audit-anchors.jsonl.",
    )
    archive_dir: Path | None = Field(
        default=None,
        description="Where db maintain archives months before dropping them;"
        " default <data_dir>/archive.",
    )
    redaction_key_ref: str | None = Field(
        default=None,
        description="The secret reference (env:NAME or file:/abs/path) of the key redacted"
        " values are fingerprinted with; default file:<data_dir>/redaction.key, created with"
        " random bytes (mode 600) on first use.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("worker_tick_s")
    @classmethod
    def _divides_a_minute(cls, value: int) -> int:
        if value < 1 or 60 % value:
            raise ValueError("must divide 60: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60")
        return value

    @property
    def keymap_path(self) -> Path:
        """Where the console reads its key remapping from."""
        return self.keymap_file or self.data_dir / "keymap.toml"

    @property
    def archive_path(self) -> Path:
        """Where months of the audit trail are archived before retention drops them."""
        return self.archive_dir or self.data_dir / "archive"

    @property
    def anchor_path(self) -> Path:
        """The anchor file: the audit chains' heads, outside the database."""
        return self.audit_anchor_file or self.data_dir / "audit-anchors.jsonl"

    @property
    def redaction_key_path(self) -> Path:
        """The default redaction key file (used when ``CC_REDACTION_KEY_REF`` is unset)."""
        return self.data_dir / "redaction.key"

    @property
    def pgdata(self) -> Path:
        """Directory of the embedded PostgreSQL cluster."""
        return self.data_dir / "pgdata"


def load_settings() -> Settings:
    """Read settings now (not at import), so tests and subprocesses see their own env."""
    return Settings()


def current_user(settings: Settings) -> str:
    """The name written into audit fields: ``CC_USER`` or the OS user."""
    if settings.user:
        return settings.user
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "unknown"
