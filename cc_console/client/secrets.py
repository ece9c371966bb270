"""Secret references (``env:NAME``, ``file:PATH``): validated when stored, resolved in memory.

A config stores only the reference. The key is read at request time and never written to
the database, a log line, an exception message or stdout. Error messages here name the
reference, never a value.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from ..errors import CcError, UsageError

__all__ = ["SecretUnavailable", "key_fingerprint", "resolve_secret", "validate_secret_ref"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SCHEMES = ("env", "file")


class SecretUnavailable(CcError):
    """The reference is well-formed but does not resolve right now."""

    exit_code = 2


def validate_secret_ref(ref: str) -> str:
    """Return ``ref`` if it is a reference; refuse anything else without echoing it."""
    scheme, sep, target = ref.partition(":")
    if not sep or scheme not in SCHEMES or not target:
        raise UsageError(
            "secret_ref must be a reference such as env:CC_API_KEY or file:/path/to/key "
            "(the value given is not shown: it may be a key, and keys are never stored)"
        )
    if scheme == "env" and not _ENV_NAME.match(target):
        raise UsageError(
            "secret_ref env:NAME needs a valid environment variable name "
            "(letters, digits, underscore)"
        )
    return ref


def resolve_secret(ref: str, environ: Mapping[str, str] | None = None) -> str:
    """The key behind ``ref``, read now; raises :class:`SecretUnavailable` naming the ref."""
    validate_secret_ref(ref)
    scheme, _, target = ref.partition(":")
    if scheme == "env":
        env = os.environ if environ is None else environ
        value = env.get(target)
        if not value:
            raise SecretUnavailable(f"secret {ref}: environment variable {target} is not set")
        return value
    path = Path(target).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise SecretUnavailable(f"secret {ref}: cannot read {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretUnavailable(
            f"secret {ref}: {path} is accessible by group/other; run `chmod 600 {path}`"
        )
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretUnavailable(f"secret {ref}: cannot read {path}: {exc}") from None
    if not value:
        raise SecretUnavailable(f"secret {ref}: {path} is empty")
    return value


def key_fingerprint(key: str) -> str:
    """First 8 hex digits of SHA-256: tells keys apart without revealing them."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
