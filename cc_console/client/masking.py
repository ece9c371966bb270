"""Masking: secrets are replaced by a short fingerprint before anything is stored or shown.

A key is found by name (the always-masked header names, a config's own auth header and its
``--mask-header`` list) and by value, in every form it takes on its way through a URL, a JSON
body or an exception message: raw, percent-encoded (upper- or lower-case hex, ``+`` for a
space), JSON- and ``repr``-escaped. Text is masked before it is stored, logged, cut short or
shown, so a cut can never leave half a key behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..masks import KeyMask, key_fingerprint, key_forms

__all__ = [
    "ALWAYS_MASKED",
    "KeyMask",
    "key_fingerprint",
    "key_forms",
    "mask_headers",
    "process_mask",
    "remember_key",
    "scrub",
]

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
    secrets: Iterable[str] | KeyMask = (),
) -> dict[str, Any]:
    """Headers with secret values replaced by ``***sha256:<8 hex>`` (names lower-cased).

    Masked whole: the names in :data:`ALWAYS_MASKED`, the ``extra`` names (a config's own auth
    header and its ``--mask-header`` list), and any header whose value holds a key in any form
    whatever its name.
    """
    mask = secrets if isinstance(secrets, KeyMask) else KeyMask(secrets)
    masked_names = ALWAYS_MASKED | {name.lower() for name in extra}
    items = headers.items() if isinstance(headers, Mapping) else headers
    result: dict[str, Any] = {}
    for name, value in items:
        lower = name.lower()
        secret = lower in masked_names or mask.found_in(value)
        shown = f"***sha256:{key_fingerprint(value)}" if secret else value
        if lower in result:  # repeated header: keep every value
            previous = result[lower]
            result[lower] = [*previous, shown] if isinstance(previous, list) else [previous, shown]
        else:
            result[lower] = shown
    return result


def scrub(text: str, secrets: Iterable[str] | KeyMask) -> str:
    """``text`` with every form of every secret replaced by its fingerprint."""
    mask = secrets if isinstance(secrets, KeyMask) else KeyMask(secrets)
    return mask.text(text)


# -- every key this process has resolved is masked in every log record it writes -----------
_known_keys: list[str] = []
_process_mask = KeyMask(())


def remember_key(key: str) -> None:
    """Mask ``key`` from now on in every log record (and in :func:`process_mask`)."""
    global _process_mask
    if key and key not in _known_keys:
        _known_keys.append(key)
        _process_mask = KeyMask(_known_keys)


def process_mask() -> KeyMask:
    """A mask of every key this process resolved (for text shown outside a run)."""
    return _process_mask


class _MaskingRecordFactory:
    """Log records with every remembered key masked in their message and traceback."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        mask = _process_mask
        if not mask:
            return record
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: left to logging to report
            return record
        masked = mask.text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:  # a traceback may quote the key too
            record.exc_text = mask.text(logging.Formatter().formatException(record.exc_info))
        return record


def install_log_masking() -> None:
    """Wrap the log record factory once (HTTP libraries log headers at DEBUG)."""
    current = logging.getLogRecordFactory()
    if not isinstance(current, _MaskingRecordFactory):
        logging.setLogRecordFactory(_MaskingRecordFactory(current))


install_log_masking()
