"""A page's body in the audit chain: digested by the engine, which decoded it anyway.

PostgreSQL writing a ~600 KB body's JSONB text and hashing it cost the landing ~4 ms a page;
the engine's canonical JSON of the decoded body (orjson's compact form, keys sorted) and its
SHA-256 cost ~1 ms, while the loop waits on the next page's request row. ``audit verify``
decodes the stored JSONB and encodes it the same way.

JSONB keeps numbers as decimals, not as the server wrote them: ``1.5e1`` reads back as ``15``
and ``-0.0`` as ``0.0``, where the body decoded ``15.0`` and ``-0.0``. So a float that is a
whole number is encoded by its value (``15``, ``0``) — on both sides, so both agree; a body
this cannot cover (such a float of 16 digits or more, or ``1e+16``; a string holding a ``"``
next to one) is digested by PostgreSQL from its JSONB text instead
(``chain_canonical_body`` false).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text

__all__ = [
    "BODY_DIGESTS",
    "canonical_body_digest",
    "canonical_json",
    "stored_body_digest",
    "stored_body_digests",
]

_WHOLE_FLOAT = re.compile(rb"\.0[,\]}]")  # how orjson ends a whole float; also found in text
_ESCAPED_QUOTE = re.compile(rb'\\"')
_DIGITS = frozenset(b"0123456789")
_BEFORE_NUMBER = frozenset(b":,[")
_LONGEST_EXACT = 15  # digits of a whole float that are surely the number JSONB kept


def canonical_json(data: Any) -> bytes | None:
    """Decoded JSON's canonical encoding: orjson's compact form, object keys sorted, whole
    floats as their value (``15.0`` → ``15``); None when that cannot be done surely."""
    encoded = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    if b"+" in encoded and b"e+" in encoded:  # "+" is rare in JSON, "e" is not: cheap first
        return None
    if not _WHOLE_FLOAT.search(encoded):
        return encoded
    return _whole_floats_by_value(encoded)


def _whole_floats_by_value(encoded: bytes) -> bytes | None:
    """``encoded`` with each whole float outside strings written as an integer. Every ``"``
    of orjson's output opens or closes a string unless escaped; a body with an escaped one
    is left out (None) rather than parsed here."""
    if _ESCAPED_QUOTE.search(encoded):  # (a regex: bytes.find is slow where '"' abounds)
        return None
    pieces: list[bytes] = []
    kept = scanned = quotes = 0
    for match in _WHOLE_FLOAT.finditer(encoded):
        end = match.start()  # the "." of ".0"
        quotes += encoded.count(b'"', scanned, end)
        scanned = end
        if quotes % 2:
            continue  # inside a string
        start = end
        while start > 0 and encoded[start - 1] in _DIGITS:
            start -= 1
        sign = start - 1 if start > 0 and encoded[start - 1] == ord("-") else start
        if start == end or sign == 0 or encoded[sign - 1] not in _BEFORE_NUMBER:
            continue  # not a number token
        if end - start > _LONGEST_EXACT:
            return None
        pieces.append(encoded[kept:sign])
        pieces.append(b"0" if encoded[start:end] == b"0" else encoded[sign:end])  # no -0
        kept = end + 2
    pieces.append(encoded[kept:])
    return b"".join(pieces)


def canonical_body_digest(data: Any) -> bytes | None:
    """SHA-256 of a decoded body's canonical JSON (None: PostgreSQL digests its JSONB text)."""
    try:
        canonical = canonical_json(data)
    except orjson.JSONEncodeError:
        return None
    return None if canonical is None else hashlib.sha256(canonical).digest()


def stored_body_digest(body_text: str | None) -> bytes | None:
    """The canonical digest recomputed from a body's JSONB text as stored (``audit verify``)."""
    if body_text is None:
        return None
    try:
        return canonical_body_digest(orjson.loads(body_text))
    except orjson.JSONDecodeError:
        return None


BODY_DIGESTS = (
    "body_digests AS (SELECT * FROM unnest(CAST(:bd_ids AS uuid[]),"
    " CAST(:bd_sent AS timestamptz[]), CAST(:bd_digests AS bytea[])) AS b(id, sent_at, digest))"
)
"""The CTE of the digests :func:`stored_body_digests` recomputed; a query joins it on
(id, sent_at) and passes ``b.digest`` to ``audit_chain.response_digest``."""


def stored_body_digests(
    conn: Connection, table: str, where: str, params: dict[str, Any]
) -> dict[str, list[Any]]:
    """Recompute the digests of the response rows (alias ``l`` in ``where``) whose body the
    engine digested, from their bodies as stored: the parameters of :data:`BODY_DIGESTS`.
    Bodies stream a few at a time, so a month of pages fits in memory as digests."""
    ids: list[Any] = []
    sent: list[datetime] = []
    digests: list[bytes | None] = []
    rows = conn.execute(
        text(
            f"SELECT l.id, l.sent_at, l.body::text AS body FROM {table} l"
            f" WHERE l.chain_canonical_body AND ({where})"
        ),
        params,
        execution_options={"stream_results": True, "yield_per": 16},
    )
    for row in rows:
        ids.append(row.id)
        sent.append(row.sent_at)
        digests.append(stored_body_digest(row.body))
    return {"bd_ids": ids, "bd_sent": sent, "bd_digests": digests}
