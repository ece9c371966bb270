"""Redaction for auditors: a policy of JSON paths per resource, and keyed fingerprints.

Pure: no I/O. The console (read-only), copy-as-curl and the exports use this module; the
auditor's views in PostgreSQL do the same in SQL (``store/redaction_sql.py``), and a test
holds the two to the same fingerprints.

**Paths** address one record — each record of a response body (the items of an OData
``value`` or a PageResult's ``items``, the items of a bare array, or the body itself when it
is one record) and each Silver payload. The grammar, and nothing else::

    path := "$" step+
    step := "." NAME        a member of an object          $.lastName   $.address.city
          | "[*]"           every item of an array         $.contacts[*].phone
          | ".." NAME       that member at any depth       $..dateOfBirth
    NAME := [A-Za-z_][A-Za-z0-9_]*

A member that is absent, or a step that meets another type, redacts nothing. A member
``..`` matches is redacted whole (not searched again inside).

**Fingerprints.** A redacted value becomes ``‹redacted:hmac:<16 hex>›``: the first 64 bits
of HMAC-SHA-256, under the deployment's redaction key, of an unambiguous encoding of the
JSON value (:func:`canonical`). Equal values have equal fingerprints, so an auditor can
still see that two records share a birth date; without the key nobody can hash candidates
to find it (a plain hash of a birth year falls to a hundred guesses). A value that already is
a fingerprint is left as it is, so overlapping paths never fingerprint a fingerprint.

**Requests.** The filter of a request on a resource with a policy may name a redacted value
(``lastName eq 'Smith'``): every string literal of ``$filter`` and the whole ``$search`` are
fingerprinted too (:meth:`Redactor.query_params`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

__all__ = [
    "MARK",
    "PathError",
    "Policy",
    "Redactor",
    "Step",
    "canonical",
    "fingerprint",
    "hmac_pads",
    "key_id",
    "parse_path",
    "records_key",
]

MARK = re.compile(r"‹redacted:hmac:[0-9a-f]{16}›")
FINGERPRINT_HEX = 16
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP = re.compile(rf"\.\.({_NAME})|\.({_NAME})|\[\*\]")
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
_URL_SAFE = "$'(),/:-._~*"  # as odata/query.py encodes a query
_KEY_ID_MESSAGE = b"cc-console redaction key id"

# a step: ("k", name) a member, ("*",) every item, ("..", name) a member at any depth
Step = tuple[str, ...]


class PathError(ValueError):
    """A path outside the grammar (the message is one line naming it)."""


def parse_path(path: str) -> list[Step]:
    """The steps of ``path``; :class:`PathError` for anything outside the grammar."""
    if not path.startswith("$") or path == "$":
        raise PathError(f"path {path!r}: start with $ and name a member, e.g. $.lastName")
    steps: list[Step] = []
    position = 1
    while position < len(path):
        found = _STEP.match(path, position)
        if found is None:
            raise PathError(
                f"path {path!r}: unexpected {path[position:]!r} (the grammar: $.name, [*],"
                " $..name; names are letters, digits and _)"
            )
        if found[1]:
            steps.append(("..", found[1]))
        elif found[2]:
            steps.append(("k", found[2]))
        else:
            steps.append(("*",))
        position = found.end()
    return steps


def canonical(value: Any) -> bytes:
    """An unambiguous encoding of a JSON value: a type letter, lengths before contents,
    object members sorted by their UTF-8 bytes, numbers in their shortest decimal form."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"s%d:%s" % (len(raw), raw)
    if value is True:
        return b"t"
    if value is False:
        return b"f"
    if value is None:
        return b"z"
    if isinstance(value, int | float | Decimal):
        return b"n" + _number(value).encode("ascii") + b";"
    if isinstance(value, Sequence):
        return b"a%d:" % len(value) + b"".join(canonical(item) for item in value)
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: str(k).encode("utf-8"))
        return b"o%d:" % len(keys) + b"".join(canonical(str(k)) + canonical(value[k]) for k in keys)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _number(value: int | float | Decimal) -> str:
    """What PostgreSQL's ``trim_scale(numeric)::text`` writes for the same JSON number."""
    if isinstance(value, int):
        return str(value)
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if number == 0:
        return "0"
    return format(number.normalize(), "f")


def fingerprint(key: bytes, value: Any) -> str:
    """``‹redacted:hmac:<16 hex>›`` of ``value`` under ``key``."""
    digest = hmac.new(key, canonical(value), hashlib.sha256).hexdigest()
    return f"‹redacted:hmac:{digest[:FINGERPRINT_HEX]}›"


def key_id(key: bytes) -> str:
    """Names a key without revealing it (which key the database's views use)."""
    return hmac.new(key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC-SHA-256 (RFC 2104): with them SQL computes
    ``sha256(opad || sha256(ipad || message))``. They are as secret as the key itself."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def records_key(body: Mapping[str, Any]) -> str | None:
    """Where an envelope holds its records: ``value`` (OData), else an ``items`` of any case
    (PageResult; the first by UTF-8 bytes if several), or None (the body is one record)."""
    if isinstance(body.get("value"), list):
        return "value"
    found = sorted(
        (k for k, v in body.items() if k.lower() == "items" and isinstance(v, list)),
        key=lambda k: k.encode("utf-8"),
    )
    return found[0] if found else None


@dataclass(frozen=True)
class Policy:
    """The paths redacted in one resource's records, sorted (Python and SQL apply them in
    this order)."""

    paths: tuple[str, ...]
    steps: tuple[tuple[Step, ...], ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(set(self.paths)))
        object.__setattr__(self, "paths", ordered)
        object.__setattr__(self, "steps", tuple(tuple(parse_path(p)) for p in ordered))

    def steps_json(self) -> list[list[list[str]]]:
        """The parsed paths as JSON, as the SQL side reads them."""
        return [[list(step) for step in steps] for steps in self.steps]


class Redactor:
    """Redacts bodies, records and request filters under one key and the policies of one
    deployment, keyed by (config id, resource path)."""

    def __init__(self, key: bytes, policies: Mapping[tuple[str, str], Policy]) -> None:
        self._key = key
        self.policies = dict(policies)

    def __repr__(self) -> str:  # never the key
        return f"Redactor({len(self.policies)} policies)"

    def policy(self, config_id: object, resource_path: str) -> Policy | None:
        """The policy of a resource, or None when nothing of it is redacted."""
        return self.policies.get((str(config_id), resource_path))

    def mark(self, value: Any) -> Any:
        """``value``'s fingerprint (a fingerprint stays as it is)."""
        if isinstance(value, str) and MARK.fullmatch(value):
            return value
        return fingerprint(self._key, value)

    def record(self, policy: Policy, record: Any) -> Any:
        """``record`` with every value a path of ``policy`` addresses fingerprinted."""
        for steps in policy.steps:
            record = self._at(record, steps, 0)
        return record

    def body(self, config_id: object, resource_path: str, body: Any) -> Any:
        """A response body with each of its records redacted (unchanged without a policy)."""
        policy = self.policy(config_id, resource_path)
        if policy is None or body is None:
            return body
        if isinstance(body, dict) and (where := records_key(body)) is not None:
            return {**body, where: [self.record(policy, r) for r in body[where]]}
        if isinstance(body, list):
            return [self.record(policy, r) for r in body]
        return self.record(policy, body)

    def text(self, config_id: object, resource_path: str, text: str | None) -> str | None:
        """A body that is not JSON: fingerprinted whole when the resource has a policy."""
        if text is None or self.policy(config_id, resource_path) is None:
            return text
        return str(self.mark(text))

    def message(self, config_id: object, resource_path: str, text: str | None) -> str | None:
        """An error or run message of a resource with a policy, its quoted literals
        fingerprinted: a server's error may echo the ``$filter`` that named a patient."""
        if text is None or self.policy(config_id, resource_path) is None:
            return text
        return _LITERAL.sub(self._literal, text)

    def messages(
        self, config_id: object, resource_path: str, rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Error rows (``message``, their own ``endpoint_path`` if any) of one config."""
        return [
            {
                **row,
                "message": self.message(
                    config_id, row.get("endpoint_path") or resource_path, row.get("message")
                ),
            }
            for row in rows
        ]

    def query_params(
        self, config_id: object, resource_path: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Query options with ``$filter``'s string literals and ``$search`` fingerprinted."""
        if self.policy(config_id, resource_path) is None:
            return dict(params)
        shown = dict(params)
        if isinstance(shown.get("$filter"), str):
            shown["$filter"] = _LITERAL.sub(self._literal, shown["$filter"])
        if isinstance(shown.get("$search"), str):
            shown["$search"] = self.mark(shown["$search"])
        return shown

    def request_line(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """A row of the request log with its URL and query options redacted (the URL's query
        is rebuilt from the redacted options)."""
        config, path = request.get("config_id"), str(request.get("endpoint_path") or "")
        shown = dict(request)
        if self.policy(config, path) is None:
            return shown
        params = self.query_params(config, path, request.get("query_params") or {})
        shown["query_params"] = params
        base = str(request.get("url") or "").partition("?")[0]
        query = "&".join(
            f"{quote(str(k), safe='$')}={quote(str(v), safe=_URL_SAFE)}" for k, v in params.items()
        )
        shown["url"] = f"{base}?{query}" if query else base
        return shown

    def request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """A request row of the log (with its response) as an auditor may see it: response
        body, text body, query options, URL and validation messages redacted."""
        config, path = request.get("config_id"), str(request.get("endpoint_path") or "")
        policy = self.policy(config, path)
        shown = self.request_line(request)
        if policy is None:
            return shown
        shown["redacted_paths"] = list(policy.paths)
        shown["response_body"] = self.body(config, path, request.get("response_body"))
        shown["response_text"] = self.text(config, path, request.get("response_text"))
        shown["validation_errors"] = self.errors_sample(request.get("validation_errors"))
        if isinstance(request.get("errors"), list):
            shown["errors"] = self.messages(config, path, request["errors"])
        if isinstance(request.get("validation"), Mapping):
            validation = dict(request["validation"])
            validation["errors_sample"] = self.errors_sample(validation.get("errors_sample"))
            shown["validation"] = validation
        return shown

    def errors_sample(self, sample: Any) -> Any:
        """A validation errors sample with each message fingerprinted (a message quotes the
        value it refused); keys, fields and error types stay."""
        if not isinstance(sample, list):
            return sample
        return [
            {**e, "message": self.mark(e["message"])}
            if isinstance(e, dict) and isinstance(e.get("message"), str)
            else e
            for e in sample
        ]

    def _literal(self, found: re.Match[str]) -> str:
        return "'" + str(self.mark(found[1].replace("''", "'"))) + "'"

    def _at(self, value: Any, steps: Sequence[Step], i: int) -> Any:
        if i == len(steps):
            return self.mark(value)
        step = steps[i]
        if step[0] == "k":
            if isinstance(value, dict) and step[1] in value:
                return {**value, step[1]: self._at(value[step[1]], steps, i + 1)}
            return value
        if step[0] == "*":
            if isinstance(value, list):
                return [self._at(item, steps, i + 1) for item in value]
            return value
        return self._descend(value, step[1], steps, i + 1)

    def _descend(self, value: Any, name: str, steps: Sequence[Step], i: int) -> Any:
        if isinstance(value, dict):
            return {
                k: self._at(v, steps, i) if k == name else self._descend(v, name, steps, i)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._descend(item, name, steps, i) for item in value]
        return value
