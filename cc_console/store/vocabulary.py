"""The closed vocabularies of the schema; CHECK constraints and code share these lists."""

from __future__ import annotations

from ..errors import ErrorKind

__all__ = [
    "BACKOFF_JITTER",
    "CURSOR_STATUSES",
    "DIALECTS",
    "PAGING_MODES",
    "ERROR_KINDS",
    "HTTP_METHODS",
    "RUN_STATUSES",
    "RUN_TRIGGERS",
    "SYNC_MODES",
    "in_list",
]

RUN_STATUSES = ("running", "succeeded", "failed", "partial")
RUN_TRIGGERS = ("manual", "schedule", "resume", "retry", "backfill", "console", "demo")
SYNC_MODES = ("full", "incremental", "full_refresh")
CURSOR_STATUSES = ("idle", "running", "completed", "failed", "partial")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
BACKOFF_JITTER = ("full", "equal", "none")
# what a config speaks: the vendor's API (built-in schemas), a standard OData v4 service
# ($metadata), or anything else (keys given by hand)
DIALECTS = ("clinical-conductor", "odata4", "generic")
# how a template pages: $top and any next link (auto), $top + $skip only, next links only
PAGING_MODES = ("auto", "skip", "server")
# an HTTP auth scheme (RFC 9110 token, the usual letters): Bearer, Token, SSWS, ...
AUTH_SCHEME_PATTERN = "^[A-Za-z][A-Za-z0-9._~+-]*$"
# every error kind, in the order of cc_console.errors.ErrorKind (the one definition)
ERROR_KINDS = tuple(kind.value for kind in ErrorKind)


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK that ``column`` is one of ``values``."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"
