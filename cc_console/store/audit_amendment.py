"""Amendments: chained audit rows changed on purpose (``db scrub``), recorded and signed.

A row's link holds the digest of the row as first written (``audit_chain.py``); masking a
secret in it afterwards changes that digest, and ``audit verify`` would name the row as
tampered with for ever after. So the change is recorded in ``cc_audit_amendment`` — the row,
its digest as chained, before and after, the reason and the operator action — under an
HMAC-SHA-256 with the seal key (never in the database). Verify takes a row whose digest is
the ``after`` of a signed amendment for the row its chain holds (``chained_digest``) and
counts it amended; an amendment that does not verify proves nothing, and is named.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, text

from .audit_chain import request_digest, response_digest
from .audit_seal import SealKey
from .canonical_body import BODY_DIGESTS, stored_body_digests

__all__ = [
    "LOGS",
    "KEYED_ROWS",
    "Amender",
    "ChainedRow",
    "amendment_message",
    "amendment_verifies",
    "keyed_params",
    "row_digests",
    "stored_digest_sql",
]

LOGS = {"request": "cc_api_request_log", "response": "cc_api_response_log"}
AMENDMENT_VERSION = "cc-audit-amendment/1"

RowKey = tuple[uuid.UUID, datetime]  # a log row's id and sent_at


def stored_digest_sql(log: str) -> tuple[str, str, str]:
    """How a query computes the digest of log row ``l`` as it is stored: (a CTE to put first,
    or "", the digest expression, a join to add). A response's CTE takes the parameters of
    :func:`canonical_body.stored_body_digests`."""
    if log == "request":
        return "", request_digest("l"), ""
    join = "LEFT JOIN body_digests b ON b.id = l.id AND b.sent_at = l.sent_at"
    return f"{BODY_DIGESTS},", response_digest("l", "b.digest"), join


@dataclass(frozen=True)
class ChainedRow:
    chain_id: uuid.UUID
    chain_seq: int
    digest: bytes


KEYED_ROWS = (
    "(l.id, l.sent_at) IN (SELECT * FROM unnest(CAST(:ids AS uuid[]),"
    " CAST(:sent AS timestamptz[])))"
)
"""The log rows (alias ``l``) of the keys :func:`keyed_params` binds."""


def keyed_params(keys: Iterable[RowKey]) -> dict[str, list[Any]]:
    """The parameters of :data:`KEYED_ROWS` for ``keys``."""
    keys = list(keys)
    return {"ids": [k[0] for k in keys], "sent": [k[1] for k in keys]}


def row_digests(conn: Connection, log: str, keys: Iterable[RowKey]) -> dict[RowKey, ChainedRow]:
    """The digests of the chained rows among ``keys``, as they are stored now."""
    keys = list(keys)
    if not keys:
        return {}
    table = LOGS[log]
    params: dict[str, Any] = keyed_params(keys)
    if log == "response":
        params |= stored_body_digests(conn, table, KEYED_ROWS, params)
    cte, digest, join = stored_digest_sql(log)
    rows = conn.execute(
        text(
            f"{'WITH ' + cte.rstrip(',') if cte else ''}"
            f" SELECT l.id, l.sent_at, l.chain_id, l.chain_seq, {digest} AS digest"
            f" FROM {table} l {join} WHERE {KEYED_ROWS} AND l.chain_id IS NOT NULL"
        ),
        params,
    )
    return {
        (row.id, row.sent_at): ChainedRow(row.chain_id, row.chain_seq, bytes(row.digest))
        for row in rows
    }


def amendment_message(amendment: Mapping[Any, Any]) -> bytes:
    """The canonical bytes an amendment's seal signs (the cc_audit_amendment columns)."""
    sent_at: datetime = amendment["sent_at"]
    return orjson.dumps(
        [
            AMENDMENT_VERSION,
            amendment["log"],
            str(amendment["row_id"]),
            sent_at.astimezone(UTC).isoformat(),
            str(amendment["chain_id"]),
            int(amendment["chain_seq"]),
            bytes(amendment["chained_digest"]).hex(),
            bytes(amendment["before_digest"]).hex(),
            bytes(amendment["after_digest"]).hex(),
            amendment["reason"],
            str(amendment["action_id"] or ""),
        ]
    )


def amendment_verifies(key: SealKey, amendment: Mapping[Any, Any]) -> bool:
    return amendment["key_id"] == key.key_id and hmac.compare_digest(
        key.sign(amendment_message(amendment)), bytes(amendment["seal"])
    )


_INSERT = text(
    "INSERT INTO cc_audit_amendment (log, row_id, sent_at, chain_id, chain_seq,"
    " chained_digest, before_digest, after_digest, reason, action_id, key_id, seal)"
    " VALUES (:log, :row_id, :sent_at, :chain_id, :chain_seq, :chained_digest,"
    " :before_digest, :after_digest, :reason, :action_id, :key_id, :seal)"
)


@dataclass(frozen=True)
class Amender:
    """Records, under ``key``, the chained rows a change altered, with why and who asked."""

    key: SealKey
    reason: str
    action_id: uuid.UUID | None = None

    def record(
        self,
        conn: Connection,
        log: str,
        before: Mapping[RowKey, ChainedRow],
        after: Mapping[RowKey, ChainedRow],
    ) -> int:
        """One amendment per row whose digest changed from ``before`` to ``after``; how many.
        A row amended before keeps the digest its chain holds (from a signed amendment)."""
        changed = [k for k, was in before.items() if k in after and after[k].digest != was.digest]
        if not changed:
            return 0
        chained = self._chained_digests(conn, log, changed, before)
        rows = []
        for key in changed:
            was, now = before[key], after[key]
            row: dict[str, Any] = {
                "log": log,
                "row_id": key[0],
                "sent_at": key[1],
                "chain_id": was.chain_id,
                "chain_seq": was.chain_seq,
                "chained_digest": chained.get(key, was.digest),
                "before_digest": was.digest,
                "after_digest": now.digest,
                "reason": self.reason,
                "action_id": self.action_id,
                "key_id": self.key.key_id,
            }
            rows.append(row | {"seal": self.key.sign(amendment_message(row))})
        conn.execute(_INSERT, rows)
        return len(rows)

    def _chained_digests(
        self,
        conn: Connection,
        log: str,
        keys: list[RowKey],
        before: Mapping[RowKey, ChainedRow],
    ) -> dict[RowKey, bytes]:
        """For rows amended before: the digest their chain holds, from the signed amendment
        whose ``after`` is the row as it is now (a forged one is not followed)."""
        found: dict[RowKey, bytes] = {}
        for amendment in conn.execute(
            text(
                "SELECT * FROM cc_audit_amendment WHERE log = :log AND (row_id, sent_at) IN"
                " (SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:sent AS timestamptz[])))"
            ),
            {"log": log, **keyed_params(keys)},
        ).mappings():
            key = (amendment["row_id"], amendment["sent_at"])
            if bytes(amendment["after_digest"]) == before[key].digest and amendment_verifies(
                self.key, amendment
            ):
                found[key] = bytes(amendment["chained_digest"])
        return found
