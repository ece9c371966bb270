"""The key that seals the audit chains: a secret reference, resolved in memory.

``CC_AUDIT_SEAL_KEY_REF`` names it (``env:NAME`` or ``file:/path``). Without one the key is
``<data dir>/audit-seal.key``, made on first use (32 random bytes as hex, mode 600): enough
for one machine; a regulated deployment keeps the key away from the database's host and
backups, since whoever holds both can re-seal an edited chain.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from ..settings import Settings, load_settings
from ..store.audit_seal import SealKey
from .secrets import SecretUnavailable, resolve_secret

__all__ = ["SecretUnavailable", "default_key_path", "load_seal_key", "seal_key_or_none"]

logger = logging.getLogger(__name__)


def default_key_path(settings: Settings) -> Path:
    return settings.data_dir / "audit-seal.key"


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")


def load_seal_key(settings: Settings) -> SealKey:
    """The sealing key; ``SecretUnavailable`` (naming the reference) if it cannot be read."""
    ref = settings.audit_seal_key_ref
    if ref is None:
        path = default_key_path(settings)
        if not path.exists():
            _create(path)
        ref = f"file:{path.resolve()}"
    return SealKey(resolve_secret(ref).encode())


def seal_key_or_none() -> SealKey | None:
    """The sealing key, or None (logged) when it cannot be read: the sync goes on, its
    chains stay open until a later sweep or `db maintain` finds the key."""
    try:
        return load_seal_key(load_settings())
    except (SecretUnavailable, OSError) as exc:
        logger.warning("audit chains left unsealed: %s", exc)
        return None
