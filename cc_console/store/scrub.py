"""Masking secrets that were written before they were masked: one config's rows, in place.

The write path masks before anything is stored; this repairs what an older version let
through (a key under a custom auth header name, a key echoed into a message). For one
config it masks, in its request and response logs, error events and run messages:

- every header whose name is secret (the names given: always-masked ones, the config's own
  auth header, its extra masked headers) or whose value contains one of the keys, replaced
  by ``***sha256:<8 hex>`` of the value, as the write path does;
- every occurrence of a key (raw, URL-encoded, JSON-escaped) in URLs, query parameters,
  messages, error details and response bodies, replaced by the key's fingerprint.

JSON response bodies are searched only where the status was not 2xx: an error page is
where a server echoes a request back, and a page of records at hundreds of kB per row is
not read end to end by a migration. Already-masked values are left alone, so the counts
are rows this call changed and a second call changes nothing. A chained row (migration 0018)
that changes is recorded as an amendment of the audit trail, so ``audit verify`` still
proves it — as first written — and says it was amended.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import Connection, text

from ..masks import key_fingerprint, key_forms
from .audit_amendment import KEYED_ROWS, Amender, keyed_params, row_digests

__all__ = ["ConfigSecrets", "ScrubCounts", "configs_to_scrub", "scrub_config_rows"]

# a key shorter than this would match ordinary text; such keys are masked by name only
MIN_KEY_LENGTH = 8

_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION pg_temp.cc_mask_value(v jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE
        WHEN jsonb_typeof(v) = 'string' AND (v #>> '{}') NOT LIKE '***sha256:%'
          THEN to_jsonb('***sha256:' || left(encode(sha256(convert_to(v #>> '{}', 'UTF8')),
                                                    'hex'), 8))
        WHEN jsonb_typeof(v) = 'array'
          THEN (SELECT jsonb_agg(CASE WHEN jsonb_typeof(e) = 'string'
                                       AND (e #>> '{}') NOT LIKE '***sha256:%'
                 THEN to_jsonb('***sha256:' || left(encode(sha256(convert_to(e #>> '{}',
                                                    'UTF8')), 'hex'), 8))
                 ELSE e END) FROM jsonb_array_elements(v) AS e)
        ELSE v END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION pg_temp.cc_mask_headers(h jsonb, names text[], keys text[])
    RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
      SELECT COALESCE(jsonb_object_agg(e.key, CASE
          WHEN lower(e.key) = ANY(names)
            OR EXISTS (SELECT 1 FROM unnest(keys) AS k WHERE strpos(e.value::text, k) > 0)
          THEN pg_temp.cc_mask_value(e.value) ELSE e.value END), h)
      FROM jsonb_each(CASE WHEN jsonb_typeof(h) = 'object' THEN h END) AS e
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION pg_temp.cc_replace_all(t text, needles text[], masks text[])
    RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
    DECLARE i int;
    BEGIN
      IF t IS NULL THEN RETURN NULL; END IF;
      FOR i IN 1 .. coalesce(array_length(needles, 1), 0) LOOP
        t := replace(t, needles[i], masks[i]);
      END LOOP;
      RETURN t;
    END $$
    """,
]

# :names lower-cased secret header names; :jkeys keys as they appear inside JSON text;
# (:tn, :tm) needles and masks for text columns, (:jn, :jm) for JSON columns.
# Per log: the rows a scrub changes (alias l), and how it changes them.
_CHANGED = {
    "request": """
        SELECT l.id, l.sent_at FROM cc_api_request_log l WHERE l.config_id = :config AND (
            pg_temp.cc_mask_headers(l.headers, :names, :jkeys) IS DISTINCT FROM l.headers
            OR pg_temp.cc_replace_all(l.url, :tn, :tm) IS DISTINCT FROM l.url
            OR pg_temp.cc_replace_all(l.query_params::text, :jn, :jm)
                IS DISTINCT FROM l.query_params::text
            OR pg_temp.cc_replace_all(l.body, :tn, :tm) IS DISTINCT FROM l.body)
    """,
    "response": """
        SELECT l.id, l.sent_at FROM cc_api_response_log l JOIN cc_api_request_log q
            ON q.id = l.request_id AND q.sent_at = l.sent_at
        WHERE q.config_id = :config AND (
            pg_temp.cc_mask_headers(l.headers, :names, :jkeys) IS DISTINCT FROM l.headers
            OR pg_temp.cc_replace_all(l.body_text, :tn, :tm) IS DISTINCT FROM l.body_text
            OR (l.status_code NOT BETWEEN 200 AND 299
                AND pg_temp.cc_replace_all(l.body::text, :jn, :jm) IS DISTINCT FROM l.body::text))
    """,
}
_UPDATE = {
    "request": """
        UPDATE cc_api_request_log l SET
            headers = pg_temp.cc_mask_headers(headers, :names, :jkeys),
            url = pg_temp.cc_replace_all(url, :tn, :tm),
            query_params = pg_temp.cc_replace_all(query_params::text, :jn, :jm)::jsonb,
            body = pg_temp.cc_replace_all(body, :tn, :tm)
    """,
    "response": """
        UPDATE cc_api_response_log l SET
            headers = pg_temp.cc_mask_headers(headers, :names, :jkeys),
            body_text = pg_temp.cc_replace_all(body_text, :tn, :tm),
            body = CASE WHEN status_code BETWEEN 200 AND 299 THEN body
                        ELSE pg_temp.cc_replace_all(body::text, :jn, :jm)::jsonb END
    """,
}

_ERRORS = """
    UPDATE cc_error_event SET
        message = pg_temp.cc_replace_all(message, :tn, :tm),
        detail = pg_temp.cc_replace_all(detail::text, :jn, :jm)::jsonb
    WHERE config_id = :config AND (
        pg_temp.cc_replace_all(message, :tn, :tm) IS DISTINCT FROM message
        OR pg_temp.cc_replace_all(detail::text, :jn, :jm) IS DISTINCT FROM detail::text)
"""

_RUNS = """
    UPDATE cc_sync_run SET message = pg_temp.cc_replace_all(message, :tn, :tm)
    WHERE config_id = :config AND message IS NOT NULL
      AND pg_temp.cc_replace_all(message, :tn, :tm) IS DISTINCT FROM message
"""


@dataclass(frozen=True)
class ScrubCounts:
    """Rows changed in each table (a row counts once, however many values it held)."""

    requests: int = 0
    responses: int = 0
    error_events: int = 0
    runs: int = 0
    amended: int = 0  # of the request and response rows: chained ones, recorded as amended
    key_found: bool = False  # a row held a key (not only other masked headers)

    @property
    def total(self) -> int:
        return self.requests + self.responses + self.error_events + self.runs

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "responses": self.responses,
            "error_events": self.error_events,
            "runs": self.runs,
            "total": self.total,
            "amended": self.amended,
            "key_found": self.key_found,
        }


def _fingerprint(key: str) -> str:
    return "***sha256:" + key_fingerprint(key)


def _needles(keys: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(text needle → mask, JSON-text needle → mask), longest needles first."""
    in_text: dict[str, str] = {}
    in_json: dict[str, str] = {}
    for key in keys:
        mask = _fingerprint(key)
        for form in sorted(key_forms(key)):
            in_text.setdefault(form, mask)
            in_json.setdefault(orjson.dumps(form).decode()[1:-1], mask)
    ordered = (dict(sorted(d.items(), key=lambda kv: -len(kv[0]))) for d in (in_text, in_json))
    return next(ordered), next(ordered)


def scrub_config_rows(
    conn: Connection,
    config_id: uuid.UUID,
    names: list[str],
    keys: list[str],
    amender: Amender | None = None,
    key_names: list[str] | None = None,
) -> ScrubCounts:
    """Mask ``names`` headers and every occurrence of ``keys`` in one config's rows.

    Runs in the caller's transaction; keys shorter than 8 characters are ignored. With
    ``amender``, every chained row changed is recorded as an amendment of the audit trail
    (``audit_amendment.py``); without, the schema may predate the chains (migration 0005).
    ``key_names``: the names among ``names`` whose value is a key (the auth header, the
    always-masked ones) — a row changed only under the others held no key
    (``ScrubCounts.key_found``); None: every name may hold one.
    """
    usable = [key for key in keys if len(key) >= MIN_KEY_LENGTH]
    for function in _FUNCTIONS:
        conn.execute(text(function))
    in_text, in_json = _needles(usable)
    params = {
        "config": config_id,
        "names": sorted({name.lower() for name in names}),
        "jkeys": [orjson.dumps(key).decode()[1:-1] for key in usable],
        "tn": list(in_text),
        "tm": list(in_text.values()),
        "jn": list(in_json),
        "jm": list(in_json.values()),
    }
    # without key_names every masked name may hold a key: what changed is what held one
    key_found = key_names is None or _held_a_key(conn, params, key_names)
    (requests, amended_requests), (responses, amended_responses) = (
        _scrub_log(conn, log, params, amender) for log in ("request", "response")
    )
    errors = runs = 0
    if usable:  # messages are only ever searched for key values
        errors = conn.execute(text(_ERRORS), params).rowcount
        runs = conn.execute(text(_RUNS), params).rowcount
    counts = ScrubCounts(
        requests, responses, errors, runs, amended=amended_requests + amended_responses
    )
    return replace(counts, key_found=bool(errors or runs or (counts.total and key_found)))


def _held_a_key(conn: Connection, params: dict[str, Any], key_names: list[str]) -> bool:
    """Whether a log row of the config holds a key in clear: a key value, or a header of
    ``key_names`` unmasked."""
    params = params | {"names": sorted({name.lower() for name in key_names})}
    return any(
        conn.execute(text(f"SELECT EXISTS ({_CHANGED[log]})"), params).scalar_one()
        for log in ("request", "response")
    )


def _scrub_log(
    conn: Connection, log: str, params: dict[str, Any], amender: Amender | None
) -> tuple[int, int]:
    """Mask one log's rows of the config; how many changed, and how many were amendments."""
    keys = [(row.id, row.sent_at) for row in conn.execute(text(_CHANGED[log]), params)]
    if not keys:
        return 0, 0
    before = row_digests(conn, log, keys) if amender else {}
    conn.execute(text(f"{_UPDATE[log]} WHERE {KEYED_ROWS}"), params | keyed_params(keys))
    amended = 0
    if amender and before:
        amended = amender.record(conn, log, before, row_digests(conn, log, before))
    return len(keys), amended


@dataclass(frozen=True)
class ConfigSecrets:
    """What scrubbing needs to know of one config (read with plain SQL, any schema >= 0004)."""

    id: uuid.UUID
    name: str
    auth_header: str
    masked_headers: tuple[str, ...]
    secret_ref: str


def configs_to_scrub(conn: Connection) -> list[ConfigSecrets]:
    """Every config, by name."""
    rows = conn.execute(
        text(
            "SELECT id, name, auth_header, masked_headers, secret_ref"
            " FROM cc_api_client_config ORDER BY name"
        )
    )
    return [
        ConfigSecrets(r.id, r.name, r.auth_header, tuple(r.masked_headers or ()), r.secret_ref)
        for r in rows
    ]
