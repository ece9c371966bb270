"""The anchor file: each config's latest seal, written outside the database.

The seals chain per config, so deleting a run in the middle leaves a gap; deleting the last
runs of a config (their seals with them) leaves none — unless the head was written somewhere
the database's editor cannot reach. ``db maintain`` and a passing ``audit verify`` append one
JSON line per config (its latest seal, its place in the chain, when) to the anchor file;
``audit verify --anchor FILE`` checks that every anchored seal is still in the database.
Keep the file on another host (or append-only storage): that is what makes it an anchor.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from ..errors import CcError
from .audit_verify import Finding, Verification

__all__ = ["AnchorError", "append_anchors", "check_anchors", "latest_seals", "read_anchors"]


class AnchorError(CcError):
    """The anchor file cannot be read or written."""

    exit_code = 2


_LATEST = text(
    "SELECT DISTINCT ON (config_id) config_id, config_seq, seal, sealed_at FROM cc_audit_seal"
    " WHERE CAST(:config AS uuid) IS NULL OR config_id = :config"
    " ORDER BY config_id, config_seq DESC"
)


def latest_seals(conn: Connection, config_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Each config's newest seal, as an anchor line holds it."""
    return [
        {
            "config_id": str(row.config_id),
            "config_seq": row.config_seq,
            "seal": bytes(row.seal).hex(),
            "sealed_at": row.sealed_at.isoformat(),
        }
        for row in conn.execute(_LATEST, {"config": config_id})
    ]


def append_anchors(path: Path, heads: list[dict[str, Any]], now: datetime) -> int:
    """Append ``heads`` (with ``anchored_at``) to ``path`` and flush them to disk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            for head in heads:
                out.write(json.dumps({**head, "anchored_at": now.isoformat()}) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise AnchorError(f"cannot append to the anchor file {path}: {exc.strerror}") from None
    return len(heads)


def read_anchors(path: Path) -> dict[uuid.UUID, dict[str, Any]]:
    """Per config, its furthest anchored seal."""
    furthest: dict[uuid.UUID, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AnchorError(f"cannot read the anchor file {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            config = uuid.UUID(entry["config_id"])
            seq = int(entry["config_seq"])
            bytes.fromhex(entry["seal"])
        except (ValueError, KeyError, TypeError):
            raise AnchorError(f"{path}:{number}: not an anchor line") from None
        if config not in furthest or seq > furthest[config]["config_seq"]:
            furthest[config] = {**entry, "config_seq": seq}
    return furthest


def check_anchors(
    conn: Connection,
    anchors: dict[uuid.UUID, dict[str, Any]],
    out: Verification,
    config_id: uuid.UUID | None = None,
) -> None:
    """Every anchored seal must still be in the database, unchanged."""
    for config, entry in anchors.items():
        if config_id is not None and config != config_id:
            continue
        seal = conn.execute(
            text("SELECT seal FROM cc_audit_seal WHERE config_id = :c AND config_seq = :n"),
            {"c": config, "n": entry["config_seq"]},
        ).scalar_one_or_none()
        where = f"config {config}: seal #{entry['config_seq']}, anchored at {entry['anchored_at']}"
        if seal is None:
            out.add(Finding("anchor", f"{where}, is not in the database: runs were deleted"))
        elif bytes(seal).hex() != entry["seal"]:
            out.add(Finding("anchor", f"{where}, differs from the seal in the database"))
