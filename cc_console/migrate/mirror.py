"""Dual-write's legacy side: rows appended to the legacy ``api_call_log`` in its format.

``LegacyWriter`` copies a batch of attempts (as the audit trail holds them) in one ``COPY``
on its own connection with short timeouts, and never raises: what it could not write is
returned as a count with a reason. It is driven by the log follower (``follower.py``).

Rows carry ``client_name = "cc-console/<config>"`` so the backfill leaves them alone and
``migrate verify`` can match them to the engine's requests (by time and URL).
"""

from __future__ import annotations

import time
from datetime import UTC
from typing import Any

import orjson
import psycopg

from ..client.secrets import resolve_secret
from ..store.audit_log import LoggedAttempt

__all__ = [
    "MIRROR_CLIENT_PREFIX",
    "LegacyWriter",
    "legacy_row",
    "mirror_client_name",
    "resolve_legacy_url",
]

MIRROR_CLIENT_PREFIX = "cc-console/"
_COLUMNS = (
    "called_at, client_name, method, url, request_headers, response_status, response_headers,"
    " response_body, duration_ms"
)
_RECONNECT_PAUSE_S = 2.0


def mirror_client_name(config_name: str) -> str:
    return f"{MIRROR_CLIENT_PREFIX}{config_name}"


def resolve_legacy_url(ref: str) -> str:
    """The URL itself, or the one behind env:NAME / file:PATH (raises SecretUnavailable)."""
    return resolve_secret(ref) if ref.startswith(("env:", "file:")) else ref


def legacy_row(attempt: LoggedAttempt, client_name: str) -> tuple[Any, ...]:
    """One api_call_log row, in _COLUMNS order (an unanswered call has no response fields)."""
    answered = attempt.status_code is not None
    return (
        attempt.sent_at.astimezone(UTC).replace(tzinfo=None),  # the legacy column is naive UTC
        client_name,
        attempt.method,
        attempt.url,
        orjson.dumps(attempt.headers).decode(),  # masked, as in Bronze
        attempt.status_code,
        orjson.dumps(attempt.response_headers).decode() if answered else None,
        attempt.body if answered else None,
        round(attempt.elapsed_ms) if answered and attempt.elapsed_ms is not None else None,
    )


class LegacyWriter:
    """Appends batches to the legacy store; a failure is a count and a reason, never raised."""

    def __init__(
        self,
        url: str | None,
        client_name: str,
        *,
        connect_timeout_s: int = 5,
        statement_timeout_ms: int = 5000,
        problem: str | None = None,
    ) -> None:
        self._url = url
        self.client_name = client_name
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_ms = statement_timeout_ms
        self.problem = problem  # why the URL could not be used at all (None: it can)
        self._conn: psycopg.Connection[Any] | None = None
        self._retry_at = 0.0

    def write(self, attempts: list[LoggedAttempt]) -> tuple[int, str | None]:
        """Copy ``attempts`` in one transaction: (rows written, why the rest were not)."""
        if not attempts:
            return 0, None
        if self._url is None:
            return 0, self.problem or "no legacy database"
        if self._conn is None and time.monotonic() < self._retry_at:
            return 0, self._last or "the legacy database is unreachable"
        try:
            if self._conn is None:
                self._conn = psycopg.connect(
                    self._url,
                    connect_timeout=self._connect_timeout_s,
                    options=f"-c statement_timeout={self._statement_timeout_ms}",
                )
            with (
                self._conn.transaction(),
                self._conn.cursor() as cursor,
                cursor.copy(f"COPY api_call_log ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for attempt in attempts:
                    copy.write_row(legacy_row(attempt, self.client_name))
        except Exception as exc:  # the sync never pays for the legacy store
            text = str(exc).strip()
            self._last = (
                f"legacy write failed: {text.splitlines()[0] if text else type(exc).__name__}"
            )
            self.close()
            self._retry_at = time.monotonic() + _RECONNECT_PAUSE_S
            return 0, self._last
        return len(attempts), None

    _last: str | None = None

    def close(self) -> None:
        """Close the connection (a later write reconnects)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
