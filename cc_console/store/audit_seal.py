"""Sealing ended chains: both heads under an HMAC-SHA-256, chained per config.

An unkeyed chain in the database can be recomputed by whoever edits a row; the seal cannot,
because its key never enters the database (a secret reference, ``client/seal_key.py``). The
seal covers the chain's id, config, run, both heads and row counts, its place in the config's
chain of seals (``config_seq``, in the order runs end) and the previous seal, so a deleted run
leaves a gap and a deleted last run is caught by the anchor file (``audit_anchor.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import audit_chain

__all__ = [
    "ZERO_HEAD",
    "SealKey",
    "Sealed",
    "seal_chain",
    "seal_in",
    "seal_message",
    "seal_open_chains",
    "seal_view",
]

ZERO_HEAD = bytes(32)  # the head of a chain with no rows
SEAL_VERSION = b"cc-audit-seal/1"


@dataclass(frozen=True)
class SealKey:
    """The sealing key (bytes held in memory only) and its public id."""

    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """Names the key in a seal without revealing it."""
        return hashlib.sha256(b"cc-audit-seal-key-id/" + self.secret).hexdigest()[:16]

    def sign(self, message: bytes) -> bytes:
        return hmac.new(self.secret, message, hashlib.sha256).digest()


def seal_message(seal: dict[str, Any]) -> bytes:
    """The canonical bytes a seal signs (``seal`` holds the cc_audit_seal columns)."""
    parts = [
        str(seal["chain_id"]),
        str(seal["config_id"]),
        str(seal["run_id"] or ""),
        str(seal["config_seq"]),
        str(seal["request_rows"]),
        bytes(seal["request_head"]).hex(),
        str(seal["response_rows"]),
        bytes(seal["response_head"]).hex(),
        bytes(seal["prev_seal"] or b"").hex(),
    ]
    return SEAL_VERSION + b"|" + "|".join(parts).encode()


@dataclass(frozen=True)
class Sealed:
    chain_id: uuid.UUID
    config_id: uuid.UUID
    config_seq: int
    request_rows: int
    response_rows: int


_HEADS = text(
    "SELECT log, config_id, run_id, rows, head, started_at, sealed_at FROM cc_audit_chain"
    " WHERE chain_id = :chain ORDER BY log FOR UPDATE"
)
_PREVIOUS = text(
    "SELECT config_seq, seal FROM cc_audit_seal WHERE config_id = :config"
    " ORDER BY config_seq DESC LIMIT 1"
)
_INSERT = text(
    "INSERT INTO cc_audit_seal (chain_id, config_id, run_id, config_seq, request_rows,"
    " request_head, response_rows, response_head, first_sent_at, prev_seal, seal, key_id,"
    " sealed_by) VALUES (:chain_id, :config_id, :run_id, :config_seq, :request_rows,"
    " :request_head, :response_rows, :response_head, :first_sent_at, :prev_seal, :seal,"
    " :key_id, :sealed_by) ON CONFLICT (chain_id) DO NOTHING RETURNING chain_id"
)

_CLOSE = text(
    "INSERT INTO cc_audit_chain (chain_id, log, config_id, run_id, rows, head, last_digest,"
    " started_at, updated_at, sealed_at) SELECT :chain, log, :config, :run, 0,"
    f" {audit_chain.GENESIS}, {audit_chain.GENESIS}, clock_timestamp(), clock_timestamp(),"
    " clock_timestamp() FROM unnest(ARRAY['request', 'response']) AS log"
    " ON CONFLICT (chain_id, log) DO UPDATE SET sealed_at = EXCLUDED.sealed_at"
)


def seal_in(
    conn: Connection,
    chain_id: uuid.UUID,
    key: SealKey,
    sealed_by: str,
    config_id: uuid.UUID | None,
    run_id: uuid.UUID | None,
) -> Sealed | None:
    """Seal ``chain_id`` in the caller's transaction (see :func:`seal_chain`)."""
    heads = {row.log: row for row in conn.execute(_HEADS, {"chain": chain_id})}
    if any(row.sealed_at is not None for row in heads.values()):
        return None
    some = next(iter(heads.values()), None)
    config = some.config_id if some is not None else config_id
    if config is None:
        return None
    # one sealer per config at a time: the config's chain of seals has one next place
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))"),
        {"lock": f"cc_audit_seal {config}"},
    )
    previous = conn.execute(_PREVIOUS, {"config": config}).one_or_none()
    request, response = heads.get("request"), heads.get("response")
    starts = [row.started_at for row in heads.values()]
    seal: dict[str, Any] = {
        "chain_id": chain_id,
        "config_id": config,
        "run_id": some.run_id if some is not None else run_id,
        "config_seq": (previous.config_seq if previous else 0) + 1,
        "request_rows": request.rows if request else 0,
        "request_head": bytes(request.head) if request else ZERO_HEAD,
        "response_rows": response.rows if response else 0,
        "response_head": bytes(response.head) if response else ZERO_HEAD,
        "first_sent_at": min(starts) if starts else None,
        "prev_seal": bytes(previous.seal) if previous else None,
        "key_id": key.key_id,
        "sealed_by": sealed_by,
    }
    seal["seal"] = key.sign(seal_message(seal))
    if conn.execute(_INSERT, seal).first() is None:
        return None
    # both logs' heads are closed, also one that has no row yet (no answer came)
    conn.execute(_CLOSE, {"chain": chain_id, "config": config, "run": seal["run_id"]})
    return Sealed(chain_id, config, seal["config_seq"], seal["request_rows"], seal["response_rows"])


async def seal_chain(
    engine: AsyncEngine,
    chain_id: uuid.UUID,
    key: SealKey,
    *,
    sealed_by: str,
    config_id: uuid.UUID | None = None,
    run_id: uuid.UUID | None = None,
) -> Sealed | None:
    """Seal chain ``chain_id`` (a run's id, or a batch's) in a transaction of its own; None if
    it was sealed already. A run that wrote no row is sealed too (with ``config_id``): its
    place in the config's chain says it happened. Writers still appending wait for the row
    lock, then find the chain sealed."""
    async with engine.begin() as conn:
        sealed = await conn.run_sync(seal_in, chain_id, key, sealed_by, config_id, run_id)
    if sealed is not None and run_id is None:
        audit_chain.forget_batch(sealed.config_id, chain_id)
    return sealed


_OPEN = text(
    """
    SELECT DISTINCT c.chain_id, (c.run_id IS NULL) AS batch
    FROM cc_audit_chain c LEFT JOIN cc_sync_run r ON r.id = c.run_id
    WHERE c.sealed_at IS NULL
      AND ((c.run_id IS NOT NULL AND r.status IS DISTINCT FROM 'running')
           OR (c.run_id IS NULL AND c.updated_at < CAST(:now AS timestamptz)
               - make_interval(secs => :idle)))
    """
)


async def seal_open_chains(
    engine: AsyncEngine, key: SealKey, *, now: datetime, batch_idle_s: float = 600.0
) -> list[Sealed]:
    """Seal what ended without a seal: runs ended by a sweep or while the key was not at
    hand, and batches outside runs idle for ``batch_idle_s``."""
    async with engine.connect() as conn:
        open_chains = (await conn.execute(_OPEN, {"now": now, "idle": batch_idle_s})).all()
    sealed = []
    for row in open_chains:
        by = "batch" if row.batch else "sweep"
        done = await seal_chain(engine, row.chain_id, key, sealed_by=by)
        if done is not None:
            sealed.append(done)
    return sealed


_SEAL_VIEW = text(
    "SELECT s.config_seq, s.request_rows, s.response_rows, s.sealed_by, s.sealed_at, s.key_id,"
    " EXISTS (SELECT 1 FROM cc_audit_chain c WHERE c.chain_id = :run) AS chained"
    " FROM (SELECT 1) AS one LEFT JOIN cc_audit_seal s ON s.chain_id = :run"
)


async def seal_view(conn: AsyncConnection, run_id: uuid.UUID) -> dict[str, Any]:
    """The run's seal for the console (``config_seq`` None: not sealed; ``chained``: it wrote
    chained rows)."""
    row = (await conn.execute(_SEAL_VIEW, {"run": run_id})).one()
    return dict(row._mapping)
