"""``audit verify``: recompute the chains and the seals, and name the first row that differs.

What is proved, per sealed chain in scope: each row's link is SHA-256 of the stored previous
link and of the row as it is now (``audit_chain.py``), positions run 1, 2, … without a gap or a
repeat, and the last link and the row count equal the sealed heads; each seal's HMAC holds
under the key; the config's seals run 1, 2, … each naming the one before. Also found: rows in
no known chain, rows without a chain written after chaining began, and runs that ended
without a seal. Rows written before chaining began (migration 0018) cannot be proved and are
counted. Chains whose rows were archived and dropped by ``db maintain`` are counted, and
proved in the schema ``audit restore`` loads them into (``schema``). A row changed on purpose
(``db scrub``) is proved as first written through its signed amendment, and counted amended
(``audit_amendment.py``).
"""

from __future__ import annotations

import hmac
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from .audit_amendment import LOGS, amendment_verifies, stored_digest_sql
from .audit_chain import GENESIS
from .audit_seal import SealKey, seal_message
from .canonical_body import stored_body_digests
from .partitions import existing_months

__all__ = ["Finding", "Verification", "verify_chains"]

SHOWN = 20  # findings listed per kind; the rest are counted


@dataclass(frozen=True)
class Finding:
    """One thing that does not match, in a line an auditor can act on."""

    kind: str  # link, gap, repeat, extra, missing, head, seal, key, order, orphan, unchained…
    message: str
    chain_id: uuid.UUID | None = None
    row_id: uuid.UUID | None = None
    table: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "chain_id": self.chain_id,
            "row_id": self.row_id,
            "table": self.table,
        }


@dataclass
class Verification:
    rows_proved: int = 0
    chains_proved: int = 0
    seals_checked: int = 0
    open_chains: int = 0  # running runs: not sealed yet
    archived_chains: int = 0  # rows dropped by db maintain (prove them in a restored month)
    predating_rows: int = 0  # written before chaining began
    amended_rows: int = 0  # proved as first written, changed since by a signed amendment
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0  # beyond those listed

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        if sum(f.kind == finding.kind for f in self.findings) < SHOWN:
            self.findings.append(finding)
        else:
            self.more_findings += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows_proved": self.rows_proved,
            "chains_proved": self.chains_proved,
            "seals_checked": self.seals_checked,
            "open_chains": self.open_chains,
            "archived_chains": self.archived_chains,
            "predating_rows": self.predating_rows,
            "amended_rows": self.amended_rows,
            "findings": [f.as_dict() for f in self.findings],
            "more_findings": self.more_findings,
        }


def _owner(seal: Any) -> str:
    return f"run {seal.run_id}" if seal.run_id else f"batch {seal.chain_id}"


def _chain_name(seal: Any, log: str) -> str:
    return f"{_owner(seal)}'s {log} chain"


_SEALS = """
    SELECT * FROM cc_audit_seal
    WHERE (CAST(:since AS timestamptz) IS NULL OR sealed_at >= :since)
      AND (CAST(:config AS uuid) IS NULL OR config_id = :config)
    ORDER BY config_id, config_seq
"""


def _row_stats(table: str, log: str, scope: str) -> str:
    """Per chain in ``scope`` (a query of chain ids): rows, last position, head, rows amended,
    and the first row whose link or position is wrong. A row is taken as its chain holds it
    where a signed amendment (``:amendments``) says how it became what it is now."""
    bodies, digest, joined = stored_digest_sql(log)
    return f"""
    WITH {bodies} x AS (
        SELECT l.chain_id, l.chain_seq, l.id, l.sent_at, l.chain_hash, {digest} AS digest
        FROM {table} l {joined} WHERE l.chain_id IN ({scope})
    ), r AS (
        SELECT x.chain_id, x.chain_seq, x.id, x.sent_at, x.chain_hash,
            COALESCE(am.chained_digest, x.digest) AS digest, am.chained_digest IS NOT NULL
                AS amended,
            lag(x.chain_hash) OVER w AS prev_hash, lag(x.chain_seq) OVER w AS prev_seq,
            lag(x.id) OVER w AS prev_id
        FROM x LEFT JOIN LATERAL (
            SELECT a.chained_digest FROM cc_audit_amendment a
            WHERE a.log = '{log}' AND a.row_id = x.id AND a.sent_at = x.sent_at
              AND a.after_digest = x.digest AND a.id = ANY(CAST(:amendments AS uuid[]))
            LIMIT 1) am ON true
        WINDOW w AS (PARTITION BY x.chain_id ORDER BY x.chain_seq, x.sent_at, x.id)
    ), c AS (
        SELECT r.*, r.chain_seq = COALESCE(r.prev_seq, 0) + 1 AS seq_ok,
            r.chain_hash IS NOT DISTINCT FROM sha256(COALESCE(r.prev_hash, {GENESIS}) || r.digest)
                AS link_ok
        FROM r
    )
    SELECT chain_id, count(*) AS n, max(chain_seq) AS last_seq,
        count(*) FILTER (WHERE amended) AS amended,
        (array_agg(chain_hash ORDER BY chain_seq DESC, sent_at DESC))[1] AS head,
        (array_agg(ARRAY[chain_seq::text, id::text, sent_at::text, COALESCE(prev_seq, 0)::text,
            prev_id::text]
            ORDER BY chain_seq, sent_at) FILTER (WHERE NOT seq_ok))[1:1] AS bad_seq,
        (array_agg(ARRAY[chain_seq::text, id::text, sent_at::text]
            ORDER BY chain_seq, sent_at) FILTER (WHERE seq_ok AND NOT link_ok))[1:1] AS bad_link
    FROM c GROUP BY chain_id
    """


def _signed_amendments(
    conn: Connection, key: SealKey, log: str, scope: str, params: dict[str, Any], out: Verification
) -> list[uuid.UUID]:
    """The ids of the amendments of chains in ``scope`` that verify; the others are named."""
    signed = []
    for amendment in conn.execute(
        text(f"SELECT * FROM cc_audit_amendment WHERE log = :log AND chain_id IN ({scope})"),
        {**params, "log": log},
    ).mappings():
        if amendment_verifies(key, amendment):
            signed.append(amendment["id"])
        else:
            out.add(
                Finding(
                    "amendment",
                    f"amendment {amendment['id']} of {LOGS[log]} row {amendment['row_id']}"
                    f" (sent {amendment['sent_at']}) does not verify under the key given: it"
                    " was forged or changed",
                    amendment["chain_id"],
                    amendment["row_id"],
                    LOGS[log],
                )
            )
    return signed


def verify_chains(
    conn: Connection,
    key: SealKey,
    *,
    since: datetime | None = None,
    config_id: uuid.UUID | None = None,
    schema: str | None = None,
) -> Verification:
    """Prove the chains sealed since ``since`` (all by default) of one config or all; with
    ``schema``, the rows are those ``audit restore`` loaded there (an archived month)."""
    out = Verification()
    params = {"since": since, "config": config_id}
    seals = conn.execute(text(_SEALS), params).all()
    _check_seals(conn, key, seals, out)
    months = existing_months(conn)
    horizon = months[0] if months and schema is None else None
    live = [
        s
        for s in seals
        if horizon is None or s.first_sent_at is None or s.first_sent_at.date() >= horizon
    ]
    out.archived_chains = len(seals) - len(live)
    scope = (
        "SELECT chain_id FROM cc_audit_seal WHERE"
        " (CAST(:since AS timestamptz) IS NULL OR sealed_at >= :since)"
        " AND (CAST(:config AS uuid) IS NULL OR config_id = :config)"
    )
    for log, table in LOGS.items():
        source = f"{schema}.{table}" if schema else table
        bound: dict[str, Any] = dict(params)
        bound["amendments"] = _signed_amendments(conn, key, log, scope, params, out)
        if log == "response":
            bound |= stored_body_digests(conn, source, f"l.chain_id IN ({scope})", params)
        stats = {
            row.chain_id: row for row in conn.execute(text(_row_stats(source, log, scope)), bound)
        }
        for seal in live if schema is None else [s for s in seals if s.chain_id in stats]:
            _check_chain(
                seal, log, table, stats.get(seal.chain_id), out, partial=schema is not None
            )
    if schema is None:
        _check_strays(conn, params, out)
    return out


def _check_seals(conn: Connection, key: SealKey, seals: Sequence[Any], out: Verification) -> None:
    by_config: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for seal in seals:
        by_config[seal.config_id].append(seal)
        out.seals_checked += 1
        if seal.key_id != key.key_id:
            out.add(
                Finding(
                    "key",
                    f"the seal of {_owner(seal)} was made with key"
                    f" {seal.key_id}, not the key given ({key.key_id})",
                    seal.chain_id,
                )
            )
        elif not hmac.compare_digest(key.sign(seal_message(seal._mapping)), bytes(seal.seal)):
            out.add(
                Finding(
                    "seal",
                    f"the seal of {_owner(seal)} (#{seal.config_seq} of"
                    f" config {seal.config_id}) does not verify: the seal row was changed",
                    seal.chain_id,
                )
            )
    for config, chain in by_config.items():
        before = None
        if chain[0].config_seq > 1:
            before = conn.execute(
                text("SELECT * FROM cc_audit_seal WHERE config_id = :c AND config_seq = :n"),
                {"c": config, "n": chain[0].config_seq - 1},
            ).one_or_none()
            if before is None:
                out.add(
                    Finding(
                        "order",
                        f"config {config}: seal #{chain[0].config_seq - 1} is missing (a run"
                        " and its seal were deleted)",
                    )
                )
        for seal in chain:
            if before is not None and seal.config_seq != before.config_seq + 1:
                out.add(
                    Finding(
                        "order",
                        f"config {config}: seals #{before.config_seq + 1}–"
                        f"#{seal.config_seq - 1} are missing (runs and their seals were deleted)",
                    )
                )
            elif before is not None and bytes(seal.prev_seal or b"") != bytes(before.seal):
                out.add(
                    Finding(
                        "order",
                        f"config {config}: seal #{seal.config_seq} does not follow seal"
                        f" #{before.config_seq}",
                        seal.chain_id,
                    )
                )
            before = seal


def _check_chain(
    seal: Any, log: str, table: str, stats: Any, out: Verification, *, partial: bool
) -> None:
    sealed_rows, sealed_head = getattr(seal, f"{log}_rows"), bytes(getattr(seal, f"{log}_head"))
    name = _chain_name(seal, log)
    found = len(out.findings) + out.more_findings
    n = stats.n if stats is not None else 0
    if stats is not None and stats.bad_seq:
        seq, row_id, sent, prev, prev_id = stats.bad_seq[0]
        if int(seq) == int(prev):
            message = (
                f"{table} rows {prev_id} and {row_id} (sent {sent}) both claim position {seq}"
                f" of {name}: one was added"
            )
            kind = "repeat"
        elif int(seq) > int(prev) + 1:
            message = (
                f"{name}: rows {int(prev) + 1}–{int(seq) - 1} are missing (before row"
                f" {row_id}, sent {sent})"
            )
            kind = "gap"
        else:
            message = f"{table} row {row_id} (sent {sent}) is out of place in {name}"
            kind = "order"
        out.add(Finding(kind, message, seal.chain_id, uuid.UUID(row_id), table))
    if stats is not None and stats.bad_link:
        seq, row_id, sent = stats.bad_link[0]
        out.add(
            Finding(
                "link",
                f"{table} row {row_id} (sent {sent}), position {seq} of {name}, does not match"
                " its link: the row was changed",
                seal.chain_id,
                uuid.UUID(row_id),
                table,
            )
        )
    amended = stats.amended if stats is not None else 0
    if partial:  # a restored month: the chain may go on in the next month
        if len(out.findings) + out.more_findings == found:
            out.rows_proved += n
            out.amended_rows += amended
        return
    if n > sealed_rows:
        out.add(
            Finding(
                "extra",
                f"{name} holds {n} rows, its seal {sealed_rows}: rows were added",
                seal.chain_id,
                table=table,
            )
        )
    elif n < sealed_rows or (stats is not None and stats.last_seq != sealed_rows):
        last = stats.last_seq if stats is not None else 0
        out.add(
            Finding(
                "missing",
                f"{name} holds {n} of its {sealed_rows} sealed rows (last position {last}):"
                " rows were deleted",
                seal.chain_id,
                table=table,
            )
        )
    elif n and bytes(stats.head) != sealed_head:
        out.add(
            Finding(
                "head",
                f"{name}: its last link does not match its seal: the chain was recomputed"
                " after rows were changed",
                seal.chain_id,
                table=table,
            )
        )
    if len(out.findings) + out.more_findings == found:
        out.rows_proved += n
        out.amended_rows += amended
        if log == "response":
            out.chains_proved += 1


def _check_strays(conn: Connection, params: dict[str, Any], out: Verification) -> None:
    """Rows no seal covers: in a chain still open (running), in no chain known, or without a
    chain although chaining had begun; and chains that ended without a seal."""
    out.open_chains = int(
        conn.execute(
            text(
                "SELECT count(DISTINCT c.chain_id) FROM cc_audit_chain c"
                " JOIN cc_sync_run r ON r.id = c.run_id"
                " WHERE c.sealed_at IS NULL AND r.status = 'running'"
                " AND (CAST(:config AS uuid) IS NULL OR c.config_id = :config)"
            ),
            params,
        ).scalar_one()
    )
    out.open_chains += int(  # a batch outside runs still being written (a console's)
        conn.execute(
            text(
                "SELECT count(DISTINCT chain_id) FROM cc_audit_chain WHERE sealed_at IS NULL"
                " AND run_id IS NULL AND updated_at >= clock_timestamp() - interval '10 minutes'"
                " AND (CAST(:config AS uuid) IS NULL OR config_id = :config)"
            ),
            params,
        ).scalar_one()
    )
    for row in conn.execute(
        text(
            "SELECT DISTINCT c.chain_id, c.run_id, c.updated_at FROM cc_audit_chain c"
            " LEFT JOIN cc_sync_run r ON r.id = c.run_id"
            " WHERE c.sealed_at IS NULL AND r.status IS DISTINCT FROM 'running'"
            " AND (c.run_id IS NOT NULL"
            "      OR c.updated_at < clock_timestamp() - interval '10 minutes')"
            " AND (CAST(:config AS uuid) IS NULL OR c.config_id = :config)"
            " AND (CAST(:since AS timestamptz) IS NULL OR c.updated_at >= :since)"
        ),
        params,
    ):
        owner = f"run {row.run_id} ended" if row.run_id else f"batch {row.chain_id} went idle"
        out.add(
            Finding(
                "unsealed",
                f"{owner} without a seal (the key was not at hand?): `cc-console db maintain`"
                " seals it",
                row.chain_id,
            )
        )
    began = conn.execute(text("SELECT min(created_at) FROM cc_audit_chain")).scalar_one()
    for table in ("cc_api_request_log", "cc_api_response_log"):
        config_of = (
            "l.config_id"
            if table == "cc_api_request_log"
            else "(SELECT q.config_id FROM cc_api_request_log q WHERE q.id = l.request_id"
            " AND q.sent_at = l.sent_at)"
        )
        where = (
            "(CAST(:since AS timestamptz) IS NULL OR l.sent_at >= :since)"
            f" AND (CAST(:config AS uuid) IS NULL OR {config_of} = :config)"
        )
        for row in conn.execute(
            text(
                f"SELECT l.id, l.sent_at, l.chain_id FROM {table} l WHERE {where}"
                " AND l.chain_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM cc_audit_seal s WHERE s.chain_id = l.chain_id)"
                " AND NOT EXISTS (SELECT 1 FROM cc_audit_chain c WHERE c.chain_id = l.chain_id"
                "   AND c.sealed_at IS NULL) ORDER BY l.sent_at LIMIT :limit"
            ),
            {**params, "limit": SHOWN + 1},
        ):
            out.add(
                Finding(
                    "orphan",
                    f"{table} row {row.id} (sent {row.sent_at}) is in chain {row.chain_id},"
                    " which no seal or open run knows: the row was added",
                    row.chain_id,
                    row.id,
                    table,
                )
            )
        counts = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE l.sent_at < CAST(:began AS timestamptz)"
                " OR CAST(:began AS timestamptz) IS NULL) AS early, count(*) FILTER (WHERE"
                f" l.sent_at >= CAST(:began AS timestamptz)) AS late FROM {table} l"
                f" WHERE {where} AND l.chain_id IS NULL"
            ),
            {**params, "began": began},
        ).one()
        out.predating_rows += counts.early
        if not counts.late:
            continue
        for row in conn.execute(
            text(
                f"SELECT l.id, l.sent_at FROM {table} l WHERE {where} AND l.chain_id IS NULL"
                " AND l.sent_at >= CAST(:began AS timestamptz) ORDER BY l.sent_at LIMIT :limit"
            ),
            {**params, "began": began, "limit": SHOWN + 1},
        ):
            out.add(
                Finding(
                    "unchained",
                    f"{table} row {row.id} (sent {row.sent_at}) has no chain although"
                    " chaining had begun: the row was added",
                    row_id=row.id,
                    table=table,
                )
            )
