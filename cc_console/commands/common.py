"""What every command shares: database access, JSON output, duration parsing."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

from rich.console import Console, ConsoleOptions
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

from ..client.seal_key import seal_key_or_none
from ..errors import UsageError
from ..safe_text import printable
from ..settings import Settings, current_user, load_settings
from ..store.audit_chain import open_batches
from ..store.audit_seal import seal_batches
from ..store.database import Database, open_database
from ..store.operator_actions import Operator

__all__ = [
    "console",
    "emit_json",
    "err_console",
    "open_db",
    "parse_duration",
    "session_scope",
    "settings",
    "with_async_engine",
]

T = TypeVar("T")


class _PlainConsole(Console):
    """Prints text as it is: no markup, no emoji codes, control characters shown — names,
    paths, URLs and server messages are untrusted."""

    def __init__(self, stderr: bool = False) -> None:
        super().__init__(stderr=stderr, highlight=False, soft_wrap=True, markup=False, emoji=False)

    def render_str(self, text: str, **kwargs: Any) -> Text:  # every str printed, tables too
        return super().render_str(printable(text), **kwargs)

    @property
    def options(self) -> ConsoleOptions:
        """The terminal's width; piped, as wide as the widest line (never cut at 80)."""
        options = super().options
        if not self.is_terminal:
            return options.update(max_width=_PIPED_WIDTH)
        return options


_PIPED_WIDTH = 100_000
console = _PlainConsole()
err_console = _PlainConsole(stderr=True)


def settings() -> Settings:
    """Settings read now; a bad CC_* value is a one-line UsageError."""
    from pydantic import ValidationError

    try:
        return load_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CC_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise UsageError(f"invalid settings: {problems}") from None


def operator() -> Operator:
    """Who runs this command: the OS user (``CC_USER`` or the login) on this host, via the CLI."""
    return Operator(current_user(settings()), "cli")


def redaction_key() -> bytes:
    """The deployment's redaction key, from ``CC_REDACTION_KEY_REF`` or the default key file
    (created on first use). Held in memory only; never printed."""
    from ..client.secrets import create_key_file, resolve_secret

    config = settings()
    ref = config.redaction_key_ref
    if ref is None:
        if create_key_file(config.redaction_key_path):
            err_console.print(f"created the redaction key {config.redaction_key_path} (mode 600)")
        ref = f"file:{config.redaction_key_path}"
    return resolve_secret(ref).encode("utf-8")


@contextmanager
def open_db(*, migrate: bool = True) -> Iterator[Database]:
    """The configured database, migrated on first use, disposed afterwards."""
    database = open_database(settings(), migrate=migrate, notice=lambda m: err_console.print(m))
    try:
        yield database
        _seal_batches(database)
    finally:
        database.dispose()


def _seal_batches(database: Database) -> None:
    """Rows this command wrote outside runs ($metadata, discovery) are sealed as it ends."""
    if not open_batches():
        return
    key = seal_key_or_none()
    if key is not None:
        with database.engine.begin() as conn:
            seal_batches(conn, key)


@contextmanager
def session_scope(database: Database) -> Iterator[Session]:
    """One transaction: committed on success, rolled back on any error."""
    with Session(database.engine, expire_on_commit=False) as session, session.begin():
        yield session


async def with_async_engine(database: Database, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh async engine of ``database``, disposed afterwards."""
    engine = database.async_engine()
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def emit_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON on stdout (times in ISO 8601, ``T`` between)."""
    print(json.dumps(payload, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str | None, option: str) -> int | None:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` → seconds (None stays None)."""
    if value is None:
        return None
    match = _DURATION.match(value)
    if not match or int(match[1]) == 0:
        raise UsageError(f"{option} must be a positive duration like 90s, 15m, 2h or 1d")
    return int(match[1]) * _UNIT_SECONDS[match[2].lower()]
