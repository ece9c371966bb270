"""Reading the legacy store: the window's calls in id order, transformed one batch ahead."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool

from ..errors import UsageError
from ..store.database import to_sqlalchemy_url
from .mirror import MIRROR_CLIENT_PREFIX
from .transform import Call, transform

__all__ = ["count_window", "legacy_batches", "legacy_engine", "transformed_batches"]

# the window's calls of the legacy client itself: rows the engine dual-wrote are left out,
# they are already in the new tables
_WINDOW = "called_at >= %(since)s AND NOT starts_with(client_name, %(mirrored)s)"
_READ = f"""
    SELECT id, called_at, client_name, method, url, request_headers, response_status,
           response_headers, response_body, duration_ms
    FROM api_call_log WHERE {_WINDOW} AND id > %(after)s ORDER BY id LIMIT %(batch)s
"""
_COUNT = f"SELECT count(*) FROM api_call_log WHERE {_WINDOW}"


def legacy_engine(url: str) -> Engine:
    """An engine on the legacy database (any PostgreSQL URL)."""
    return create_engine(to_sqlalchemy_url(url), poolclass=NullPool)


def open_legacy_source(url: str) -> Engine:
    """An engine on a legacy store that has an ``api_call_log``; a one-line UsageError when
    the URL is no PostgreSQL URL, the server is unreachable or the table is missing."""
    if not url.startswith(("postgresql", "postgres")):
        raise UsageError("--from takes a PostgreSQL URL like postgresql://user@host/legacy")
    engine = legacy_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM api_call_log LIMIT 1"))
    except ProgrammingError:
        engine.dispose()
        raise UsageError("the --from database has no api_call_log table (see db/legacy/)") from None
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise UsageError(f"cannot reach the legacy database: {reason}") from None
    return engine


def _window(since: datetime) -> dict[str, Any]:
    return {"since": since.astimezone(UTC).replace(tzinfo=None), "mirrored": MIRROR_CLIENT_PREFIX}


def count_window(legacy: Engine, since: datetime) -> int:
    """How many calls ``legacy_batches`` will read (for a progress bar)."""
    with legacy.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None  # an open psycopg connection
        found = driver.execute(_COUNT, _window(since)).fetchone()
    return int(found[0]) if found else 0


def legacy_batches(legacy: Engine, since: datetime, batch: int) -> Iterator[list[Any]]:
    """The window's legacy calls in id order, ``batch`` at a time (keyset on id), as named
    tuples (attribute access costs a tenth of a SQLAlchemy row's).
    """
    after = 0
    while True:
        with legacy.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None  # an open psycopg connection
            with driver.cursor(row_factory=namedtuple_row) as cursor:
                params = {**_window(since), "after": after, "batch": batch}
                rows = cursor.execute(_READ, params).fetchall()
        if not rows:
            return
        after = rows[-1].id
        yield rows


def transformed_batches(
    legacy: Engine,
    since: datetime,
    batch: int,
    base_path: str,
    masked: frozenset[str] = frozenset(),
) -> Iterator[list[Call]]:
    """The window's calls, transformed, one batch ahead in a reader thread.

    Reading and transforming (Python) overlap with landing the previous batch (PostgreSQL).
    """
    results: queue.Queue[list[Call] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def hand_over(item: list[Call] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for rows in legacy_batches(legacy, since, batch):
                if not hand_over(
                    [transform(row, base_path=base_path, masked=masked) for row in rows]
                ):
                    return
            hand_over(None)
        except BaseException as exc:  # handed to the consumer, raised there
            hand_over(exc)

    reader = threading.Thread(target=read, name="cc-backfill-reader", daemon=True)
    reader.start()
    try:
        while (item := results.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)
