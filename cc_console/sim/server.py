"""Run the simulator with uvicorn: in the foreground (CLI) or in a thread (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from .app import ODATA4_ROOT, create_app
from .config import SimConfig

__all__ = ["RunningSimulator", "run_in_thread", "serve_forever"]


@dataclass
class RunningSimulator:
    """A simulator listening on a loopback port."""

    base_url: str
    config: SimConfig
    server: uvicorn.Server

    @property
    def api_url(self) -> str:
        """Base URL of the API of the simulator's dialect (what a config's base_url points at):
        the Clinical Conductor API, or the OData v4 service's root."""
        return self.odata_url if self.config.dialect == "odata4" else self.cc_url

    @property
    def cc_url(self) -> str:
        """Base URL of the Clinical Conductor API."""
        return f"{self.base_url}/api/v1"

    @property
    def odata_url(self) -> str:
        """The standard OData v4 service's root."""
        return f"{self.base_url}{ODATA4_ROOT}"


def _server(
    config: SimConfig, sock: socket.socket, tls: tuple[str, str] | None = None
) -> uvicorn.Server:
    app = create_app(config)
    host, port = sock.getsockname()[:2]
    uv_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="critical",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
    )
    return uvicorn.Server(uv_config)


@contextmanager
def run_in_thread(
    config: SimConfig, host: str = "127.0.0.1", tls: tuple[str, str] | None = None
) -> Iterator[RunningSimulator]:
    """Serve on a free port of ``host`` until the block ends (HTTPS with ``tls``: the paths
    of a certificate and its key)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    server = _server(config, sock, tls)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.01)
    port = sock.getsockname()[1]
    try:
        scheme = "https" if tls else "http"
        yield RunningSimulator(f"{scheme}://{host}:{port}", config, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve_forever(config: SimConfig, host: str, port: int) -> None:
    """Serve in the foreground until Ctrl+C."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = _server(config, sock)
    server.config.log_level = "warning"
    server.run(sockets=[sock])
