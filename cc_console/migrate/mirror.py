"""Dual-write: every engine attempt also appended to the legacy ``api_call_log``.

For one release cycle the old consumers keep reading the legacy table. The mirror never
stands in the primary write's way: the engine hands each attempt over *after* its own
commit, without waiting (a bounded queue), and a thread writes them to the legacy database
in small batches. Whatever cannot be written — the legacy database is down, slow, or the
queue is full — is counted, never retried into the engine's path; the run records both
counts and, when something was lost, one ``legacy_write`` error event says why.

Rows carry ``client_name = "cc-console/<config>"`` so the backfill leaves them alone and
``migrate verify`` can match them to the engine's requests (by time and URL).
"""

from __future__ import annotations

import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from ..client.secrets import resolve_secret
from ..store.audit import ResponseFields

__all__ = ["MIRROR_CLIENT_PREFIX", "LegacyMirror", "mirror_client_name", "resolve_legacy_url"]

MIRROR_CLIENT_PREFIX = "cc-console/"
_COLUMNS = (
    "called_at, client_name, method, url, request_headers, response_status, response_headers,"
    " response_body, duration_ms"
)
_BATCH = 200
_RECONNECT_PAUSE_S = 2.0


def mirror_client_name(config_name: str) -> str:
    return f"{MIRROR_CLIENT_PREFIX}{config_name}"


def resolve_legacy_url(ref: str) -> str:
    """The URL itself, or the one behind env:NAME / file:PATH (raises SecretUnavailable)."""
    return resolve_secret(ref) if ref.startswith(("env:", "file:")) else ref


# one attempt as the engine hands it over: sent_at, URL, masked headers, response or None
_Attempt = tuple[datetime, str, dict[str, Any], ResponseFields | None]


class LegacyMirror:
    """Appends attempts to the legacy store from a background thread; counts what it lost."""

    def __init__(
        self,
        url: str | None,
        client_name: str,
        *,
        queue_size: int = 10_000,
        connect_timeout_s: int = 5,
        statement_timeout_ms: int = 5000,
        problem: str | None = None,
    ) -> None:
        self._url = url
        self._client = client_name
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_ms = statement_timeout_ms
        self._queue: queue.Queue[_Attempt | None] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0
        self.problem = problem  # the first reason something was not written
        self._conn: psycopg.Connection[Any] | None = None
        self._retry_at = 0.0
        self._in_hand = 0  # rows of the batch being written
        self._closed = False  # close() has settled the counts: later outcomes are not counted
        self._thread = threading.Thread(target=self._work, name="cc-legacy-mirror", daemon=True)
        self._thread.start()

    def record(
        self,
        sent_at: datetime,
        url: str,
        request_headers: dict[str, Any],
        response: ResponseFields | None,
    ) -> None:
        """Queue one attempt (its headers already masked); never blocks. The legacy row is
        built on the mirror's thread, not on the engine's."""
        try:
            self._queue.put_nowait((sent_at, url, request_headers, response))
        except queue.Full:
            self._lost(1, "the legacy write queue was full (legacy database too slow)")

    def _row(self, attempt: _Attempt) -> tuple[Any, ...]:
        """One api_call_log row, in _COLUMNS order."""
        sent_at, url, request_headers, response = attempt
        return (
            sent_at.astimezone(UTC).replace(tzinfo=None),  # the legacy column is naive UTC
            self._client,
            "GET",
            url,
            orjson.dumps(request_headers).decode(),
            None if response is None else response.status_code,
            None if response is None else orjson.dumps(response.headers).decode(),
            None if response is None else response.body.decode("utf-8", errors="replace"),
            None if response is None else round(response.elapsed_ms),
        )

    def close(self, timeout_s: float = 10.0) -> tuple[int, int]:
        """Flush what is queued (waiting at most ``timeout_s``); returns (written, failed)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._queue.put(None, timeout=max(0.01, deadline - time.monotonic()))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        # whatever is still queued will never be written now (worker stuck or gone), and a
        # batch still in the stuck worker's hands is not known to have landed
        with self._lock:
            unwritten, self._closed = self._in_hand if self._thread.is_alive() else 0, True
        while True:
            try:
                unwritten += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        self._lost(unwritten, f"the legacy database did not answer within {timeout_s:g}s")
        with self._lock:
            return self.written, self.failed

    def _lost(self, count: int, reason: str) -> None:
        if count <= 0:
            return
        with self._lock:
            self.failed += count
            if self.problem is None:
                self.problem = reason

    def _work(self) -> None:
        done = False
        while not done:
            item = self._queue.get()
            batch: list[_Attempt] = []
            while item is not None:
                batch.append(item)
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            done = item is None
            if batch:
                self._write(batch)
        if self._conn is not None:
            self._conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._url is None:
            raise psycopg.OperationalError(self.problem or "no legacy database")
        return psycopg.connect(
            self._url,
            connect_timeout=self._connect_timeout_s,
            options=f"-c statement_timeout={self._statement_timeout_ms}",
        )

    def _write(self, batch: list[_Attempt]) -> None:
        if self._conn is None and time.monotonic() < self._retry_at:
            self._lost(len(batch), self.problem or "the legacy database is unreachable")
            return
        with self._lock:
            self._in_hand = len(batch)
        try:
            if self._conn is None:
                self._conn = self._connect()
            with (
                self._conn.transaction(),
                self._conn.cursor() as cursor,
                cursor.copy(f"COPY api_call_log ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for attempt in batch:
                    copy.write_row(self._row(attempt))
        except Exception as exc:  # never let the mirror thread die with rows still queued
            text = str(exc).strip()
            reason = text.splitlines()[0] if text else type(exc).__name__
            self._settle(0, len(batch), f"legacy write failed: {reason}")
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._retry_at = time.monotonic() + _RECONNECT_PAUSE_S
            return
        self._settle(len(batch), 0, None)

    def _settle(self, written: int, failed: int, reason: str | None) -> None:
        with self._lock:
            self._in_hand = 0
            if self._closed:  # close() already counted this batch as not written
                return
            self.written += written
            self.failed += failed
            if failed and self.problem is None:
                self.problem = reason
