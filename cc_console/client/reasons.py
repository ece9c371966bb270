"""The server's own reason for a failed request, read out of its error body.

An OData service answers ``{"error": {"code", "message", ...}}``; Clinical Conductor an array
of ``{"error", "message", "data"}``; ASP.NET ``{"Message": ...}``; a proxy an HTML page. The
reason is the message where there is one, else the start of the text — masked (the caller
passes the secrets) before it is cut, so a cut can never leave half a key behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import orjson

from ..safe_text import printable
from .masking import KeyMask, scrub

__all__ = ["REASON_LIMIT", "server_reason"]

REASON_LIMIT = 200
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _message(data: Any) -> str | None:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        if isinstance(message, dict):  # OData v2/v3 style: {"lang": ..., "value": ...}
            message = message.get("value")
        return message if isinstance(message, str) else None
    for name in ("message", "Message", "error_description", "detail", "title"):
        if isinstance(data.get(name), str):
            return str(data[name])
    return error if isinstance(error, str) else None


def server_reason(body: bytes, secrets: Iterable[str] | KeyMask) -> str | None:
    """One line of what the server said was wrong, at most ``REASON_LIMIT`` characters."""
    if not body:
        return None
    text = body.decode("utf-8", errors="replace")
    try:
        found = _message(orjson.loads(body))
    except orjson.JSONDecodeError:
        found = None
    if found is None:
        found = _TAGS.sub(" ", text)
    masked = scrub(found, secrets if isinstance(secrets, KeyMask) else list(secrets))
    line = printable(_SPACE.sub(" ", masked).strip())  # shown in terminals: no ESC obeyed
    if not line:
        return None
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"
