"""Seeded fault injection: which fault (if any) hits each request, and how it looks on the wire."""

from __future__ import annotations

import random
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .config import SimConfig

__all__ = ["FaultInjector", "drift_record", "reset_mid_body"]

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


def truncate(body: bytes) -> bytes:
    """Half of a JSON body: a valid HTTP message whose JSON is cut."""
    return body[: max(1, len(body) // 2)]


def malform(body: bytes) -> bytes:
    """A JSON body made invalid (the first ':' becomes '=')."""
    return body.replace(b":", b"=", 1) if b":" in body else body + b"}"


def reset_mid_body(body: bytes, status: int = 200) -> Any:
    """An ASGI app that announces the full length, sends half, and drops the connection."""

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
