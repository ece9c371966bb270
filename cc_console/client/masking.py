"""Masking: secrets are replaced by a short fingerprint before anything is stored or shown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .secrets import key_fingerprint

__all__ = ["ALWAYS_MASKED", "mask_headers", "scrub"]

ALWAYS_MASKED = frozenset(
    {
        "x-apikey",
        "ccapikey",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
    }
)


def mask_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    extra: Iterable[str] = (),
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """Headers with secret values replaced by ``***sha256:<8 hex>`` (names lower-cased).

    Masked: the names in :data:`ALWAYS_MASKED`, the ``extra`` names (a config's own auth
    header and its ``--mask-header`` list), and any header whose value contains one of
    ``secrets`` whatever its name.
    """
    masked_names = ALWAYS_MASKED | {name.lower() for name in extra}
    keys = [secret for secret in secrets if secret]
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, Any] = {}
    for name, value in items:
        lower = name.lower()
        secret = lower in masked_names or any(key in value for key in keys)
        shown = f"***sha256:{key_fingerprint(value)}" if secret else value
        if lower in result:  # repeated header: keep every value
            previous = result[lower]
            result[lower] = [*previous, shown] if isinstance(previous, list) else [previous, shown]
        else:
            result[lower] = shown
    return result


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced by its fingerprint."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, f"***sha256:{key_fingerprint(secret)}")
    return text
