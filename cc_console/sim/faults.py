"""Seeded fault injection: which fault (if any) hits each request, and how it looks on the wire."""

from __future__ import annotations

import random
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .config import SimConfig

__all__ = ["FaultInjector", "cut_off_body", "drift_record", "drop_connection"]

HTML_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>nginx</center></body></html>"
)


class FaultInjector:
    """Draws one number per API request from a seeded stream, so a seed replays exactly."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.table = config.faults.table()
        self.reset()

    def reset(self) -> None:
        """Restart both random streams from the seed."""
        self.fault_rng = random.Random(self.config.seed)
        self.latency_rng = random.Random(self.config.seed + 1)

    def draw(self) -> str | None:
        """The fault of the next request, or None."""
        roll = self.fault_rng.random()
        cumulative = 0.0
        for kind, rate in self.table:
            cumulative += rate
            if roll < cumulative:
                return kind
        return None

    def latency_s(self, endpoint: str, skip: int) -> float:
        """Base latency with jitter, plus deep-``$skip`` slowness on patient visits."""
        cfg = self.config
        ms = cfg.latency_ms
        if cfg.latency_jitter_ms:
            ms += self.latency_rng.uniform(0, cfg.latency_jitter_ms)
        if endpoint.startswith("/api/v1/patient-visits"):
            ms += cfg.deep_skip_ms_per_1000 * skip / 1000
        return ms / 1000


def error_body(error: str, message: str) -> list[dict[str, Any]]:
    """The vendor's ErrorResponseModel, served as an array."""
    return [{"error": error, "message": message, "data": None}]


def html_response() -> Response:
    """What a proxy in front of the API answers when the upstream misbehaves."""
    return Response(HTML_PAGE, status_code=502, media_type="text/html")


def malform(body: bytes) -> bytes:
    """A JSON body made invalid (the first ':' becomes '=')."""
    return body.replace(b":", b"=", 1) if b":" in body else body + b"}"


def drop_connection() -> Any:
    """An ASGI app after which the server drops the connection before any byte of an answer
    (a header value the HTTP layer refuses to send makes uvicorn close the socket): what a
    client sees when a peer resets the connection."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-reset", b"\n")]})
        await send({"type": "http.response.body", "body": b""})

    return app


def cut_off_body(body: bytes, status: int = 200) -> Any:
    """An ASGI app that announces the full length, sends part of the body, and closes the
    connection: a real short read (the connection ends before Content-Length)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        # returning now leaves the response incomplete: the server closes the connection

    return app


_RENAMES = {"name": "fullName", "status": "state", "site": "location", "amount": "total"}


def drift_record(record: dict[str, Any], kind: str) -> dict[str, Any]:
    """The record after the server's schema drifted: a field renamed, retyped, added or removed."""
    drifted = dict(record)
    if kind == "add":
        drifted["simulatorAddedField"] = "drift"
    elif kind == "rename":
        for old, new in _RENAMES.items():
            if old in drifted:
                drifted[new] = drifted.pop(old)
                break
    elif kind == "retype":
        for key, value in drifted.items():
            if key != "id" and isinstance(value, (bool, int, float)):
                drifted[key] = str(value)
                break
    elif kind == "remove":
        drifted.pop("uid", None) if "uid" in drifted else drifted.pop(
            next(iter(k for k in drifted if k != "id")), None
        )
    return drifted
