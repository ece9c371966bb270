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
    headers: Mapping[str, str] | Iterable[tuple[str, str]], extra: Iterable[str] = ()
) -> dict[str, Any]:
    """Headers with secret values replaced by ``***sha256:<8 hex>`` (names lower-cased)."""
    masked_names = ALWAYS_MASKED | {name.lower() for name in extra}
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, Any] = {}
    for name, value in items:
        lower = name.lower()
        shown = f"***sha256:{key_fingerprint(value)}" if lower in masked_names else value
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
