"""Drill-down reads for the console, from each table's home: one run with its timeline, one
request with its response.

Headers in the log are masked before they were stored, so what is read here is safe to show;
``as_curl`` rebuilds a request for a terminal without ever having had the key.
"""

from __future__ import annotations

import re
import shlex
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..redaction import Redactor
from .audit_log import request_view, run_timeline
from .audit_seal import seal_view
from .cursors import cursor_view
from .error_events import request_errors_view, run_errors_view
from .redaction import load_policies_async
from .rows import fetch_dicts
from .runs import run_view
from .validations import validation_view

__all__ = ["RequestKey", "as_curl", "fetch_dicts", "load_request", "load_run"]

RequestKey = tuple[uuid.UUID, datetime]
TIMELINE_CAP = 2000


async def load_run(
    conn: AsyncConnection, run_id: uuid.UUID, redaction_key: bytes | None = None
) -> dict[str, Any] | None:
    """The run, its requests (oldest first, capped), its errors and its cursor; with
    ``redaction_key``, its messages as an auditor may see them."""
    run = await run_view(conn, run_id)
    if run is None:
        return None
    run["timeline"] = await run_timeline(conn, run_id, run["started_at"], TIMELINE_CAP)
    run["errors"] = await run_errors_view(conn, run_id, TIMELINE_CAP)
    if redaction_key is not None:
        redactor = Redactor(redaction_key, await load_policies_async(conn))
        config, path = run["config_id"], str(run["resource_path"])
        run["errors"] = redactor.messages(config, path, run["errors"])
        run["message"] = redactor.message(config, path, run.get("message"))
    run["cursor"] = await cursor_view(
        conn, run["config_id"], run["resource_path"], run["filter_hash"]
    )
    run["seal"] = await seal_view(conn, run_id)
    return run


async def load_request(
    conn: AsyncConnection, key: RequestKey, redaction_key: bytes | None = None
) -> dict[str, Any] | None:
    """The request row with its response, validation and errors (None when it is gone);
    with ``redaction_key``, as an auditor may see it (the policies as stored now)."""
    request = await request_view(conn, *key)
    if request is None:
        return None
    request["validation"] = None
    if request["response_id"] is not None:
        request["validation"] = await validation_view(conn, request["response_id"], key[1])
    request["errors"] = await request_errors_view(conn, *key)
    if redaction_key is not None:
        request = Redactor(redaction_key, await load_policies_async(conn)).request(request)
    return request


def as_curl(request: dict[str, Any]) -> str:
    """A shell command that repeats ``request``. The key is read when the command runs, from
    the config's secret reference (``$NAME`` for ``env:NAME``, ``$(cat PATH)`` for
    ``file:PATH``); other masked headers stay masked. The URL is quoted (``$filter`` must not
    expand)."""
    auth = str(request.get("auth_header") or "")
    parts = ["curl", "-X", request["method"], shlex.quote(request["url"])]
    for name, value in sorted((request.get("headers") or {}).items()):
        key = _key_from_reference(request.get("secret_ref")) if auth else None
        if key is not None and name.lower() == auth.lower():
            scheme = request.get("auth_scheme")
            parts += ["-H", f'"{auth}: {scheme + " " if scheme else ""}{key}"']
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    return " ".join(parts)


def _key_from_reference(ref: object) -> str | None:
    """The shell expression (for double quotes) that reads the key behind ``ref``."""
    if not isinstance(ref, str):
        return None
    scheme, _, target = ref.partition(":")
    if scheme == "env" and _ENV_NAME.fullmatch(target):
        return f"${target}"
    if scheme == "file" and target.startswith("/") and _SAFE_PATH.fullmatch(target):
        return f"$(cat {shlex.quote(target)})"
    return None


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# a path with nothing a double-quoted string treats specially (backslash " ` $, controls)
_SAFE_PATH = re.compile(r'[^\\"`$\x00-\x1f]+')
