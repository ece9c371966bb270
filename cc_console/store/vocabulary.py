"""The closed vocabularies of the schema; CHECK constraints and code share these lists."""

from __future__ import annotations

__all__ = [
    "BACKOFF_JITTER",
    "CURSOR_STATUSES",
    "ERROR_KINDS",
    "HTTP_METHODS",
    "RUN_STATUSES",
    "RUN_TRIGGERS",
    "in_list",
]

RUN_STATUSES = ("running", "succeeded", "failed", "partial")
RUN_TRIGGERS = ("manual", "schedule", "resume", "retry", "backfill", "console", "demo")
CURSOR_STATUSES = ("idle", "running", "completed", "failed", "partial")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
BACKOFF_JITTER = ("full", "equal", "none")
ERROR_KINDS = (
    # retryable by default
    "timeout",
    "connect",
    "reset",
    "http_429",
    "http_500",
    "http_502",
    "http_503",
    "http_504",
    # not retryable
    "http_400",
    "http_401",
    "http_403",
    "http_404",
    "http_409",
    "http_501",
    "http_other",
    "parse",
    "validation",
    "foreign_next_link",
    "secret_unavailable",
    # lifecycle
    "interrupted",
    "cancelled",
    "db",
    # cutover: attempts the engine could not mirror to the legacy store (migration 0004)
    "legacy_write",
)


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` is one of ``values``."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"
