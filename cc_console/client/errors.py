"""Typed error kinds of an API attempt, and how a failure is classified.

```
ApiError
├── retryable
│   ├── timeout            connect/read/write/pool timeout
│   ├── connect            cannot open a connection
│   ├── reset              connection dropped (mid-body included)
│   ├── http_429           rate limited (Retry-After honoured)
│   ├── http_500           server error (retryable unless the config says otherwise)
│   └── http_502/503/504   gateway trouble
└── not retryable
    ├── http_400/401/403/404/409/501, http_other
    ├── parse              body is not JSON of a known envelope
    ├── validation         records do not match the resource schema
    ├── foreign_next_link  next link points at another scheme/host/port (key never sent)
    └── secret_unavailable the config's secret reference does not resolve
lifecycle (recorded on runs): interrupted, cancelled, db
```
"""

from __future__ import annotations

from typing import Any

import httpx

from ..store.vocabulary import ERROR_KINDS

__all__ = ["RETRYABLE_KINDS", "ApiError", "classify_exception", "classify_status"]

RETRYABLE_KINDS = frozenset(
    {"timeout", "connect", "reset", "http_429", "http_500", "http_502", "http_503", "http_504"}
)
_STATUS_KINDS = {400, 401, 403, 404, 409, 429, 500, 501, 502, 503, 504}


class ApiError(Exception):
    """A failed attempt (or a refused step), with its kind and whether to try again."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool | None = None,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        assert kind in ERROR_KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.detail = detail or {}


def classify_status(status: int, *, retry_http_500: bool = True) -> tuple[str, bool]:
    """(kind, retryable) of a non-2xx status."""
    kind = f"http_{status}" if status in _STATUS_KINDS else "http_other"
    retryable = kind in RETRYABLE_KINDS and (kind != "http_500" or retry_http_500)
    return kind, retryable


def classify_exception(exc: BaseException) -> tuple[str, bool]:
    """(kind, retryable) of a transport failure."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", True
    if isinstance(exc, httpx.ConnectError):
        return "connect", True
    if isinstance(
        exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError)
    ):
        return "reset", True
    return "http_other", False
