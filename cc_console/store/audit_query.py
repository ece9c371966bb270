"""The audit browser's filter language and its keyset-paginated query.

``status:429 endpoint:subjects run:3f2a since:1h !status:200 method:GET kind:http_503 timeout``
— terms are ANDed; ``!`` negates a term; a bare word matches the URL; ``since``/``until`` take
``90s 15m 2h 7d``. The time window is always bounded (default: the last 24 hours) so the query
stays on the (endpoint_path, sent_at) / (run_id, sent_at) indexes of the partitioned log.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from ..redaction import Redactor
from ..run_ids import RunIdError, RunIdPrefix, parse_run_id
from .error_events import ATTEMPT_ERROR_KIND
from .redaction import load_policies

__all__ = [
    "AuditFilter",
    "AuditFilterError",
    "FilterTerm",
    "audit_clock",
    "audit_jsonl",
    "audit_page",
    "filter_terms",
    "parse_audit_filter",
    "term_duration",
]

_DURATION = re.compile(r"([0-9]{1,9})([smhd])")  # ASCII digits: "²" is no number here
MAX_WINDOW = timedelta(days=3660)  # ten years: longer than any log is kept
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
KEYS = ("status", "endpoint", "run", "since", "until", "method", "kind")


class AuditFilterError(ValueError):
    """The filter text cannot be understood; the message says which term and why."""


@dataclass
class AuditFilter:
    """A parsed filter: what to include and exclude."""

    since: timedelta = timedelta(hours=24)
    until: timedelta | None = None
    include: dict[str, list[str]] = field(default_factory=dict)
    exclude: dict[str, list[str]] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)


def term_duration(term: str, value: str) -> timedelta:
    """``since:``/``until:`` values: ``90s 15m 2h 7d`` (at most ten years)."""
    match = _DURATION.fullmatch(value)
    if not match:
        raise AuditFilterError(f"{term}: expected a duration like 90s, 15m, 2h or 7d")
    length = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if length > MAX_WINDOW:
        raise AuditFilterError(f"{term}: at most {MAX_WINDOW.days}d")
    return length


def _literal(value: str) -> str:
    """``value`` for a LIKE pattern, matched as it is (``%`` and ``_`` are no wildcards)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class FilterTerm:
    """One whitespace-separated term: ``key:value``, ``!key:value`` or a bare word."""

    text: str
    negated: bool
    key: str | None  # None: a bare word (its text is the value)
    value: str


def filter_terms(query: str) -> list[FilterTerm]:
    """The terms of filter text — the grammar every filter shares (the audit browser's,
    ``silver export --where``); :class:`AuditFilterError` names a bad term."""
    control = next((n for n, char in enumerate(query) if char < " " and char not in "\t\n"), None)
    if control is not None:
        raise AuditFilterError(f"a control character at position {control + 1}; remove it")
    terms = []
    for term in query.split():
        negated = term.startswith("!")
        body = term[1:] if negated else term
        key, sep, value = body.partition(":")
        if not sep:
            if negated:
                raise AuditFilterError(f"{term}: negate a key:value term, e.g. !status:200")
            terms.append(FilterTerm(term, False, None, body))
        else:
            terms.append(FilterTerm(term, negated, key, value))
    return terms


def parse_audit_filter(query: str) -> AuditFilter:
    """Parse filter text; :class:`AuditFilterError` names the bad term."""
    result = AuditFilter()
    for parsed in filter_terms(query):
        term, negated, key, value = parsed.text, parsed.negated, parsed.key, parsed.value
        if key is None:
            result.words.append(value)
            continue
        if key not in KEYS:
            raise AuditFilterError(f"{term}: unknown key {key!r}; use one of {', '.join(KEYS)}")
        if not value:
            raise AuditFilterError(f"{term}: missing value")
        if key in ("since", "until"):
            if negated:
                raise AuditFilterError(f"{term}: {key} cannot be negated")
            setattr(result, key, term_duration(term, value))
            continue
        if key == "status" and not re.fullmatch(r"[1-5][0-9][0-9]|[1-5]xx", value):
            raise AuditFilterError(f"{term}: status is a code like 429 or a class like 5xx")
        if key == "run":
            try:
                value = parse_run_id(value).digits
            except RunIdError as exc:
                raise AuditFilterError(f"{term}: {exc}") from None
        (result.exclude if negated else result.include).setdefault(key, []).append(value)
    if result.until is not None and result.until >= result.since:
        raise AuditFilterError("until: must be less long ago than since (the window is empty)")
    return result


def _status_sql(values: list[str], column: str, params: dict[str, Any], tag: str) -> str:
    parts = []
    for n, value in enumerate(values):
        name = f"{tag}{n}"
        if value.endswith("xx"):
            params[name] = int(value[0]) * 100
            parts.append(f"({column} >= :{name} AND {column} < :{name} + 100)")
        else:
            params[name] = int(value)
            parts.append(f"{column} = :{name}")
    return "(" + " OR ".join(parts) + ")"


def _term_sql(key: str, values: list[str], params: dict[str, Any], tag: str) -> str:
    if key == "status":
        return _status_sql(values, "s.status_code", params, tag)
    if key == "status_in":  # an included status: driven from the response log's status index
        return (
            "(q.id, q.sent_at) IN (SELECT s2.request_id, s2.sent_at FROM cc_api_response_log s2"
            f" WHERE {_status_sql(values, 's2.status_code', params, tag)}"
            " AND s2.sent_at >= :lo AND s2.sent_at <= :hi)"
        )
    if key == "endpoint":
        params[tag] = [f"%{_literal(v)}%" for v in values]
        return f"q.endpoint_path ILIKE ANY(CAST(:{tag} AS text[]))"
    if key == "method":
        params[tag] = [v.upper() for v in values]
        return f"q.method = ANY(CAST(:{tag} AS text[]))"
    if key == "run":  # an id prefix is a range of ids: the (run_id, sent_at) index answers it
        parts = []
        for n, value in enumerate(values):
            low, high = RunIdPrefix(value).bounds()
            params[f"{tag}lo{n}"], params[f"{tag}hi{n}"] = str(low), str(high)
            parts.append(
                f"(q.run_id >= CAST(:{tag}lo{n} AS uuid) AND q.run_id <= CAST(:{tag}hi{n} AS uuid))"
            )
        return "(" + " OR ".join(parts) + ")"
    params[tag] = values  # kind: the events' time index yields the ids, the key finds them
    return (
        "q.id = ANY(ARRAY(SELECT e.request_id FROM cc_error_event e"
        f" WHERE e.kind = ANY(CAST(:{tag} AS text[])) AND e.occurred_at >= :lo"
        " AND e.request_id IS NOT NULL))"
    )


def _json_value(value: object) -> object:
    if isinstance(value, datetime):  # ISO 8601, UTC with Z: what every log tool parses
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)  # UUIDs, decimals


def audit_jsonl(row: dict[str, Any]) -> str:
    """One audit row as one JSON line — the console's export and ``audit search`` alike."""
    return json.dumps(row, default=_json_value, ensure_ascii=False, separators=(",", ":")) + "\n"


def audit_clock(conn: Connection) -> datetime:
    """The database's clock: where a search's relative window (``since:1d``) ends."""
    now: datetime = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    return now


def audit_page(
    conn: Connection,
    flt: AuditFilter,
    *,
    now: datetime,
    limit: int = 100,
    before: tuple[datetime, uuid.UUID] | None = None,
    redaction_key: bytes | None = None,
) -> tuple[list[dict[str, Any]], tuple[datetime, uuid.UUID] | None]:
    """One page of matching requests, newest first, and the key of the next (older) page;
    with ``redaction_key``, URLs and query options redacted by the stored policies."""
    params: dict[str, Any] = {
        "lo": now - flt.since,
        "hi": now - (flt.until or timedelta(0)),
        "limit": limit + 1,
    }
    where = ["q.sent_at >= :lo", "q.sent_at <= :hi"]
    for n, (key, values) in enumerate(flt.include.items()):
        where.append(_term_sql("status_in" if key == "status" else key, values, params, f"i{n}_"))
    for n, (key, values) in enumerate(flt.exclude.items()):
        where.append(f"NOT COALESCE({_term_sql(key, values, params, f'x{n}_')}, false)")
    for n, word in enumerate(flt.words):
        params[f"w{n}"] = f"%{_literal(word)}%"
        where.append(f"q.url ILIKE :w{n}")
    if before is not None:
        where.append("(q.sent_at, q.id) < (:before_at, :before_id)")
        params["before_at"], params["before_id"] = before
    rows = (
        conn.execute(
            text(
                "SELECT q.id, q.sent_at, q.method, q.endpoint_path, q.url, q.attempt_no, q.run_id,"
                " q.config_id, q.query_params,"
                f" s.status_code, s.elapsed_ms, s.size_bytes, s.parse_ok, {ATTEMPT_ERROR_KIND}"
                " FROM cc_api_request_log q LEFT JOIN cc_api_response_log s"
                " ON s.request_id = q.id AND s.sent_at = q.sent_at"
                f" WHERE {' AND '.join(where)} ORDER BY q.sent_at DESC, q.id DESC LIMIT :limit"
            ),
            params,
        )
        .mappings()
        .all()
    )
    page = [dict(r) for r in rows[:limit]]
    if redaction_key is not None:
        redactor = Redactor(redaction_key, load_policies(conn))
        page = [redactor.request_line(r) for r in page]
    more = len(rows) > limit
    return page, ((page[-1]["sent_at"], page[-1]["id"]) if more and page else None)
