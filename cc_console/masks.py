"""A key in every form it takes in text, and a mask that replaces each by the key's
fingerprint — the one definition the client (before anything is stored) and the store's
scrub (of what older versions stored) both use.

Forms: raw, percent-encoded (upper- or lower-case hex, ``+`` for a space), JSON- and
``repr``-escaped — what a URL, a JSON body or an exception message makes of a key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["KeyMask", "key_fingerprint", "key_forms"]


def key_fingerprint(key: str) -> str:
    """First 8 hex digits of SHA-256: tells keys apart without revealing them."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


_PERCENT = re.compile(r"%[0-9A-F]{2}")
_UNRESERVED_RUN = re.compile(r"[A-Za-z0-9._~-]+")  # never encoded nor escaped on the way


def key_forms(key: str) -> set[str]:
    """Every spelling of ``key`` that text carrying it may hold."""
    forms = {
        key,
        quote(key, safe=""),
        quote(key, safe="/"),
        quote_plus(key),
        json.dumps(key)[1:-1],
        json.dumps(key)[1:-1].replace("/", "\\/"),
        repr(key)[1:-1],
        repr(key.encode("utf-8", "backslashreplace"))[2:-1],
    }
    forms |= {_PERCENT.sub(lambda m: m.group().lower(), form) for form in forms}
    return {form for form in forms if form}


class KeyMask:
    """Finds and masks the given keys, in every form, in text and in bytes."""

    def __init__(self, keys: Iterable[str]) -> None:
        replacement: dict[str, str] = {}
        probes: list[bytes] = []
        for key in (k for k in keys if k):
            shown = f"***sha256:{key_fingerprint(key)}"
            replacement.update(dict.fromkeys(key_forms(key), shown))
            longest = max(_UNRESERVED_RUN.findall(key), key=len, default="")
            probes.append(longest.encode() if len(longest) >= 6 else b"")
        self._replacement = replacement
        # a cheap probe per key (a run of characters every form shares), else the pattern
        self._probes = probes
        forms = sorted(replacement, key=len, reverse=True)
        self._text = re.compile("|".join(map(re.escape, forms))) if forms else None
        self._bytes = (
            re.compile(b"|".join(re.escape(f.encode("utf-8", "replace")) for f in forms))
            if forms
            else None
        )

    def __bool__(self) -> bool:
        return self._text is not None

    def found_in(self, text: str) -> bool:
        """Whether ``text`` holds a key in any form."""
        return self._text is not None and self._text.search(text) is not None

    def text(self, text: str) -> str:
        """``text`` with every form of every key replaced by the key's fingerprint."""
        if self._text is None:
            return text
        return self._text.sub(lambda m: self._replacement[m.group()], text)

    def bytes(self, data: bytes) -> bytes:
        """``data`` masked the same way (a body: unchanged, and cheap, when no key is in it)."""
        if self._bytes is None:
            return data
        if all(probe and probe not in data for probe in self._probes):
            return data
        return self._bytes.sub(
            lambda m: self._replacement[m.group().decode("utf-8", "replace")].encode(), data
        )
