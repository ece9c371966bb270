"""The audit trail's hash chains: how a log row is encoded, linked and appended.

A row's link is ``SHA-256(previous link || SHA-256(canonical row))``; the first row's previous
link is 32 zero bytes. The canonical encoding is computed by PostgreSQL from the values as
stored (``canonical_*``), so the INSERT that writes a row computes its link in the same
statement — no extra round trip — and ``audit verify`` recomputes it with the very same
expression. Timestamps go in as epoch microseconds and floats as their IEEE bytes, so neither
the session's time zone nor its float format changes a link.

The chain's head lives in ``cc_audit_chain`` (one row per chain and log); the upsert that
advances it takes that row's lock until the row's transaction ends, so writers of one chain
follow each other and a rolled-back write leaves the head where it was. A sealed chain takes
no more rows: the write finds nothing to append to.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

__all__ = [
    "GENESIS",
    "append_request_sql",
    "append_response_sql",
    "batch_chain",
    "forget_batch",
    "link_batch",
    "open_batches",
    "request_digest",
    "response_digest",
]

# Off only in ``bench/audit_chain.py``, which measures what chaining costs the hot path.
enabled = True

GENESIS = "decode(repeat('00', 32), 'hex')"


def _epoch_us(column: str) -> str:
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


def request_digest(a: str) -> str:
    """SHA-256 of the canonical encoding of request row ``a``."""
    fields = (
        f"'request', {a}.chain_id, {a}.id, {_epoch_us(f'{a}.sent_at')}, {a}.config_id,"
        f" {a}.run_id, {a}.template_id, {a}.method, {a}.url, {a}.endpoint_path,"
        f" {a}.query_params, {a}.headers, {a}.body, {a}.body_size, {a}.attempt_no,"
        f" {a}.key_fingerprint"
    )
    return f"sha256(convert_to(jsonb_build_array({fields})::text, 'UTF8'))"


def response_digest(a: str, body_digest: str = "CAST(NULL AS bytea)") -> str:
    """SHA-256 of the canonical encoding of response row ``a``: its columns as a JSON array,
    then the body — as its JSONB text, or (``chain_canonical_body``) as ``body_digest``, the
    digest of its canonical JSON (``canonical_body.py``)."""
    fields = (
        f"{a}.chain_id, {a}.id, {_epoch_us(f'{a}.sent_at')}, {a}.request_id,"
        f" {_epoch_us(f'{a}.received_at')}, {a}.status_code, {a}.headers, {a}.content_type,"
        f" {a}.body_text, {a}.size_bytes, encode(float8send({a}.elapsed_ms), 'hex'),"
        f" {a}.parse_ok, {a}.validation_errors, {a}.odata_count, {a}.has_next_link"
    )
    whole = (
        f"sha256(convert_to(jsonb_build_array('response', {fields})::text || E'\\n'"
        f" || COALESCE({a}.body::text, ''), 'UTF8'))"
    )
    canonical = (
        f"sha256(convert_to(jsonb_build_array('response/canonical body', {fields})::text"
        f" || E'\\n', 'UTF8') || {body_digest})"
    )
    return f"CASE WHEN {a}.chain_canonical_body THEN {canonical} ELSE {whole} END"


def _advance(log: str) -> str:
    """The CTE ``link`` that appends digest ``d.digest`` to chain ``d.chain_id``'s head."""
    return f"""
    link AS (
        INSERT INTO cc_audit_chain AS c (chain_id, log, config_id, run_id, rows, head,
            last_digest, started_at, updated_at)
        SELECT d.chain_id, '{log}', d.config_id, d.run_id, 1, sha256({GENESIS} || d.digest),
            d.digest, d.sent_at, d.sent_at FROM d
        ON CONFLICT (chain_id, log) DO UPDATE SET rows = c.rows + 1,
            head = sha256(c.head || EXCLUDED.last_digest), last_digest = EXCLUDED.last_digest,
            updated_at = EXCLUDED.updated_at
        WHERE c.sealed_at IS NULL
        RETURNING rows, head
    )"""


REQUEST_COLUMNS = (
    "id, sent_at, config_id, run_id, template_id, method, url, endpoint_path, query_params,"
    " headers, body, body_size, attempt_no, key_fingerprint, chain_id"
)


def append_request_sql(fence: str | None) -> str:
    """INSERT of one request row linked into its chain; RETURNING id, sent_at (no row: the
    fence did not hold, or the chain is sealed)."""
    where = f"WHERE {fence}" if fence else ""
    return f"""
    WITH v AS (
        SELECT gen_random_uuid() AS id, clock_timestamp() AS sent_at,
            CAST(:config AS uuid) AS config_id, CAST(:run AS uuid) AS run_id,
            CAST(:template AS uuid) AS template_id, CAST(:method AS varchar) AS method,
            CAST(:url AS text) AS url, CAST(:endpoint AS text) AS endpoint_path,
            CAST(:params AS jsonb) AS query_params, CAST(:headers AS jsonb) AS headers,
            CAST(NULL AS text) AS body, 0 AS body_size, CAST(:attempt AS integer) AS attempt_no,
            CAST(:fingerprint AS varchar) AS key_fingerprint, CAST(:chain AS uuid) AS chain_id
        {where}
    ),
    d AS (SELECT v.*, {request_digest("v")} AS digest FROM v),
    {_advance("request")}
    INSERT INTO cc_api_request_log ({REQUEST_COLUMNS}, chain_seq, chain_hash)
    SELECT {", ".join(f"d.{c.strip()}" for c in REQUEST_COLUMNS.split(","))}, link.rows,
        link.head FROM d, link
    RETURNING id, sent_at
    """


RESPONSE_COLUMNS = (
    "id, sent_at, request_id, received_at, status_code, headers, content_type, body,"
    " body_text, size_bytes, elapsed_ms, parse_ok, validation_errors, odata_count,"
    " has_next_link, chain_id, chain_canonical_body"
)


def append_response_sql(canonical_body: bool) -> str:
    """INSERT of one response row linked into its request's chain; RETURNING id (no row:
    the chain is sealed — its run was ended without this engine). With ``canonical_body``
    the engine digested the body (``:body_digest``): the body then stays out of the CTEs,
    whose result PostgreSQL would copy (~2 ms for a 600 KB page)."""
    body = "CAST(NULL AS jsonb)" if canonical_body else "CAST(:body AS jsonb)"
    body_digest = "CAST(:body_digest AS bytea)" if canonical_body else "CAST(NULL AS bytea)"
    columns = [c.strip() for c in RESPONSE_COLUMNS.split(",")]
    values = ", ".join(
        "CAST(:body AS jsonb)" if c == "body" and canonical_body else f"d.{c}" for c in columns
    )
    return f"""
    WITH v AS (
        SELECT gen_random_uuid() AS id, CAST(:sent_at AS timestamptz) AS sent_at,
            CAST(:request AS uuid) AS request_id,
            GREATEST(clock_timestamp(), CAST(:sent_at AS timestamptz)) AS received_at,
            CAST(:status AS integer) AS status_code, CAST(:headers AS jsonb) AS headers,
            CAST(:ctype AS text) AS content_type, {body} AS body,
            CAST(:body_text AS text) AS body_text, CAST(:size AS integer) AS size_bytes,
            CAST(:elapsed AS double precision) AS elapsed_ms,
            CAST(:parse_ok AS boolean) AS parse_ok, CAST(:verrors AS jsonb) AS validation_errors,
            CAST(:count AS bigint) AS odata_count, CAST(:next AS boolean) AS has_next_link,
            CAST(:chain AS uuid) AS chain_id, CAST(:config AS uuid) AS config_id,
            CAST(:run AS uuid) AS run_id, {"true" if canonical_body else "false"}
            AS chain_canonical_body, {body_digest} AS body_digest
    ),
    d AS (SELECT v.*, {response_digest("v", "v.body_digest")} AS digest FROM v),
    {_advance("response")}
    INSERT INTO cc_api_response_log ({RESPONSE_COLUMNS}, chain_seq, chain_hash)
    SELECT {values}, link.rows, link.head FROM d, link
    RETURNING id
    """


# -- rows written outside any run (discovery, $metadata): one batch chain per config ------
_batches: dict[uuid.UUID, uuid.UUID] = {}


def batch_chain(config_id: uuid.UUID) -> uuid.UUID:
    """This process's open batch chain for ``config_id``'s rows outside runs."""
    return _batches.setdefault(config_id, uuid.uuid4())


def open_batches() -> list[tuple[uuid.UUID, uuid.UUID]]:
    """This process's open batch chains: (config id, chain id)."""
    return list(_batches.items())


def forget_batch(config_id: uuid.UUID, chain_id: uuid.UUID) -> None:
    """The batch was sealed (by a sweep): the next row outside runs starts a new one."""
    if _batches.get(config_id) == chain_id:
        del _batches[config_id]


# -- rows written in bulk (a backfill's COPY): linked after the fact, in the same transaction --
def link_batch(
    conn: Connection,
    log: str,
    chain_id: uuid.UUID,
    config_id: uuid.UUID,
    keys: Sequence[tuple[uuid.UUID | str, datetime]],
) -> int:
    """Link rows just copied with ``chain_id`` (keys: id and sent_at) into that chain, in the
    order they were sent; returns how many. The digests come from PostgreSQL, as for every
    row; only the chaining of them is done here, since COPY cannot compute it."""
    table = "cc_api_request_log" if log == "request" else "cc_api_response_log"
    digest = request_digest("l") if log == "request" else response_digest("l")
    ids = [str(key) for key, _ in keys]
    sent = [at for _, at in keys]
    rows = conn.execute(
        text(
            f"SELECT l.id, l.sent_at, {digest} AS digest FROM {table} l"
            " JOIN unnest(CAST(:ids AS uuid[]), CAST(:sent AS timestamptz[])) AS k(id, sent_at)"
            " ON l.id = k.id AND l.sent_at = k.sent_at ORDER BY l.sent_at, l.id"
        ),
        {"ids": ids, "sent": sent},
    ).all()
    if not rows:
        return 0
    link, links = bytes(32), []
    for row in rows:
        link = hashlib.sha256(link + bytes(row.digest)).digest()
        links.append(link)
    conn.execute(
        text(
            f"UPDATE {table} l SET chain_seq = u.seq, chain_hash = u.link FROM unnest("
            "CAST(:ids AS uuid[]), CAST(:sent AS timestamptz[]), CAST(:seqs AS bigint[]),"
            " CAST(:links AS bytea[])) AS u(id, sent_at, seq, link)"
            " WHERE l.id = u.id AND l.sent_at = u.sent_at"
        ),
        {
            "ids": [row.id for row in rows],
            "sent": [row.sent_at for row in rows],
            "seqs": list(range(1, len(rows) + 1)),
            "links": links,
        },
    )
    conn.execute(
        text(
            "INSERT INTO cc_audit_chain (chain_id, log, config_id, rows, head, last_digest,"
            " started_at, updated_at) VALUES (:chain, :log, :config, :n, :head, :last,"
            " :first, clock_timestamp())"
        ),
        {
            "chain": chain_id,
            "log": log,
            "config": config_id,
            "n": len(rows),
            "head": link,
            "last": bytes(rows[-1].digest),
            "first": rows[0].sent_at,
        },
    )
    return len(rows)
