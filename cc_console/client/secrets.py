"""Secret references (``env:NAME``, ``file:PATH``): validated when stored, resolved in memory.

A config stores only the reference. The key is read at request time and never written to
the database, a log line, an exception message or stdout. Error messages here name the
reference, never a value.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from ..errors import CcError, UsageError
from .masking import key_fingerprint, remember_key

__all__ = [
    "SecretUnavailable",
    "checked_key",
    "create_key_file",
    "environment_with",
    "key_fingerprint",
    "resolve_secret",
    "validate_secret_ref",
]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SCHEMES = ("env", "file")


def environment_with(**secrets: str) -> dict[str, str]:
    """This process's environment plus ``secrets`` — for a child such as psql, which reads a
    password from ``PGPASSWORD`` (never from its command line, where ``ps`` shows it)."""
    return {**os.environ, **secrets}


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
    if scheme == "file" and not target.startswith("/"):
        raise UsageError(
            "secret_ref file:PATH needs an absolute path (file:/run/secrets/cc-key): a"
            " relative one would depend on the directory a command happens to run in"
        )
    return ref


def resolve_secret(ref: str, environ: Mapping[str, str] | None = None) -> str:
    """The key behind ``ref``, read now; raises :class:`SecretUnavailable` naming the ref."""
    try:
        validate_secret_ref(ref)
    except UsageError as exc:  # a reference stored before the rule: refused when used
        raise SecretUnavailable(f"secret {ref}: {exc}") from None
    scheme, _, target = ref.partition(":")
    if scheme == "env":
        env = os.environ if environ is None else environ
        value = env.get(target)
        if not value:
            raise SecretUnavailable(f"secret {ref}: environment variable {target} is not set")
        return checked_key(ref, value)
    path = Path(target)
    try:
        info = path.stat()
    except OSError as exc:
        raise SecretUnavailable(f"secret {ref}: cannot read {path}: {exc.strerror}") from None
    _check_file(ref, path, info)
    try:
        data = path.read_bytes()  # no newline translation: the key is what the file holds
    except OSError as exc:
        raise SecretUnavailable(f"secret {ref}: cannot read {path}: {exc.strerror}") from None
    try:
        value = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnavailable(f"secret {ref}: {path} is not UTF-8 text") from None
    # one line ending, as editors write it: LF or CRLF
    value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not value:
        raise SecretUnavailable(f"secret {ref}: {path} is empty")
    return checked_key(ref, value)


def checked_key(ref: str, value: str) -> str:
    """``value`` if it can travel in a header as it is: printable ASCII, no whitespace.

    A key with a newline would break the request line (and the HTTP library would echo it
    in its error); one with inner spaces is usually a scheme and a key (``--auth-scheme``).
    """
    if all("!" <= char <= "~" for char in value):
        remember_key(value)  # masked in every log record from now on
        return value
    if any(char in " \t" for char in value.strip()):
        what = "inner whitespace (for `Bearer <key>` give the key alone and --auth-scheme Bearer)"
    elif any(ord(char) > 0x7E for char in value):
        what = "non-ASCII characters"
    else:
        what = "control characters or surrounding whitespace"
    raise SecretUnavailable(
        f"secret {ref}: the key holds {what}; store the key alone (it is not shown here)"
    )


def create_key_file(path: Path) -> bool:
    """Create ``path`` (mode 600) holding 32 random bytes as hex, unless it exists; True when
    it was created. Its value is never printed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
    return True


def _read_only_mount(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _check_file(ref: str, path: Path, info: os.stat_result) -> None:
    """A key file is the owner's alone, or a root-owned file on a read-only mount (the way
    containers mount their secrets)."""
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        raise SecretUnavailable(f"secret {ref}: {path} is not a regular file")
    if info.st_uid == os.geteuid():
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretUnavailable(
                f"secret {ref}: {path} is accessible by group/other; run `chmod 600 {path}`"
            )
        return
    if info.st_uid == 0 and not mode & (stat.S_IWGRP | stat.S_IWOTH) and _read_only_mount(path):
        return
    raise SecretUnavailable(
        f"secret {ref}: {path} belongs to another user; a key file must be yours with mode"
        " 600, or root's on a read-only mount (a container secret)"
    )
