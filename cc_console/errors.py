"""Failures, in two families, and the one vocabulary of error kinds.

What a user sees: one line of text and an exit code, never a traceback.

```
CcError                 exit 1   something the user asked for cannot be done
├── UsageError          exit 2   bad input: invalid config value, bad reference, unknown name
├── NotFoundError       exit 3   the named config / template / run does not exist
└── DatabaseError       exit 2   PostgreSQL unreachable, or the schema is not migrated
```

What a sync meets, typed by :class:`ErrorKind` (stored in ``cc_error_event.kind``):

```
SyncError(kind)                  a sync cannot go on as it is
├── ApiError                     one HTTP attempt failed (the client retries the retryable)
│   ├── retryable    timeout, connect, reset, truncated (the body was cut off), http_429,
│   │                http_500 (unless the config says not), http_502, http_503, http_504
│   └── final        http_400/401/403/404/409/501, http_other, foreign_redirect (another
│                    origin: the key never goes there), too_many_redirects (more than 5)
└── StopRun                      the engine ends the run (it stays resumable)
    ├── parse              the body is not JSON of a known envelope (after its retries)
    ├── validation         records do not match the resource schema
    ├── foreign_next_link  a next link points at another scheme/host/port (key never sent)
    ├── bad_next_link      a next link that is no usable URL
    ├── next_link_loop     a next link this run has followed already
    ├── secret_unavailable the config's secret reference does not resolve
    ├── cancelled          an operator asked it to stop
    └── db                 the audit trail could not be written (so nothing is sent)
kinds a run records for itself: interrupted (its engine died), legacy_write (cutover),
cursor_restarted (a notice: the cursor went back to the start, and why)
```

Each kind says whether an attempt that failed with it is retried (``retryable``) and
whether a run that ended with it may be resumed without an operator (``auto_resumable``:
the cause is likely gone by itself, like a rate limit, an outage or a dead engine).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

__all__ = [
    "ApiError",
    "CcError",
    "DatabaseError",
    "ErrorKind",
    "NotFoundError",
    "StopRun",
    "SyncError",
    "UsageError",
]


class CcError(Exception):
    """A failure with a message fit to print as one line."""

    exit_code = 1


class UsageError(CcError):
    """The input was wrong; the message says what to change."""

    exit_code = 2


class NotFoundError(CcError):
    """A named object does not exist."""

    exit_code = 3


class DatabaseError(CcError):
    """The database cannot be used right now."""

    exit_code = 2


class ErrorKind(StrEnum):
    """Every kind of error event; the schema's CHECK constraint lists the same values."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    RESET = "reset"
    TRUNCATED = "truncated"
    HTTP_429 = "http_429"
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_504 = "http_504"
    HTTP_400 = "http_400"
    HTTP_401 = "http_401"
    HTTP_403 = "http_403"
    HTTP_404 = "http_404"
    HTTP_409 = "http_409"
    HTTP_501 = "http_501"
    HTTP_OTHER = "http_other"
    PARSE = "parse"
    VALIDATION = "validation"
    FOREIGN_NEXT_LINK = "foreign_next_link"
    BAD_NEXT_LINK = "bad_next_link"
    NEXT_LINK_LOOP = "next_link_loop"
    FOREIGN_REDIRECT = "foreign_redirect"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    SECRET_UNAVAILABLE = "secret_unavailable"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    DB = "db"
    LEGACY_WRITE = "legacy_write"
    CURSOR_RESTARTED = "cursor_restarted"
    LOST_CURSOR = "lost_cursor"
    INTERNAL = "internal"
    KEYSET_STALLED = "keyset_stalled"

    @property
    def retryable(self) -> bool:
        """An attempt that failed this way is tried again (within the retry budget)."""
        return self in _RETRYABLE

    @property
    def auto_resumable(self) -> bool:
        """A run that ended this way may be resumed by a scheduler, without an operator."""
        return self in _RETRYABLE or self in (ErrorKind.INTERRUPTED, ErrorKind.DB)

    @property
    def after_run(self) -> str:
        """What happens to a run that ended this way: ``auto_resume`` (a worker resumes it),
        ``superseded`` (another run took its cursor: nothing to resume) or ``needs_attention``
        (a person must look: a 400/401, a parse failure, a foreign link, a cancel…)."""
        if self is ErrorKind.LOST_CURSOR:
            return "superseded"
        return "auto_resume" if self.auto_resumable else "needs_attention"

    @classmethod
    def of_status(cls, status: int) -> ErrorKind:
        """The kind of a non-2xx HTTP status (``http_other`` for the unnamed ones)."""
        try:
            return cls(f"http_{status}")
        except ValueError:
            return cls.HTTP_OTHER


_RETRYABLE = frozenset(
    {
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECT,
        ErrorKind.RESET,
        ErrorKind.TRUNCATED,
        ErrorKind.HTTP_429,
        ErrorKind.HTTP_500,
        ErrorKind.HTTP_502,
        ErrorKind.HTTP_503,
        ErrorKind.HTTP_504,
    }
)


class SyncError(Exception):
    """A sync cannot go on as it is: a kind, a message, and whether trying again may help."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool | None = None,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)  # a str that is no kind raises ValueError here
        self.message = message
        self.retryable = self.kind.retryable if retryable is None else retryable
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.detail = detail or {}


class ApiError(SyncError):
    """One HTTP attempt failed: a status the sync cannot use, or the transport broke."""


class StopRun(SyncError):
    """The engine ends the run with this kind (a refused step, not a failed attempt)."""

    def __init__(self, kind: ErrorKind, message: str, *, retryable: bool = False) -> None:
        super().__init__(kind, message, retryable=retryable)
