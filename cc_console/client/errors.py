"""How a failed HTTP attempt is classified (the kinds and the error tree: ``cc_console.errors``)."""

from __future__ import annotations

import httpx

from ..errors import ApiError, ErrorKind

__all__ = ["ApiError", "classify_exception", "classify_status"]


def classify_status(status: int, *, retry_http_500: bool = True) -> tuple[ErrorKind, bool]:
    """(kind, retryable) of a non-2xx status; a config may make 500 final."""
    kind = ErrorKind.of_status(status)
    return kind, kind.retryable and (kind is not ErrorKind.HTTP_500 or retry_http_500)


def classify_exception(exc: BaseException) -> tuple[ErrorKind, bool]:
    """(kind, retryable) of a transport failure before any answer (a body cut off after the
    answer began is ``truncated``: the client knows which it is)."""
    if isinstance(exc, httpx.TimeoutException):
        kind = ErrorKind.TIMEOUT
    elif isinstance(exc, httpx.ConnectError):
        kind = ErrorKind.CONNECT
    elif isinstance(
        exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError)
    ):
        kind = ErrorKind.RESET
    else:
        kind = ErrorKind.HTTP_OTHER
    return kind, kind.retryable
