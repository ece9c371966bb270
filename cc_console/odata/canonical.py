"""Canonical forms of OData query parameters, so the same query always hashes the same.

Two spellings of one query — keys in another order, ``$Filter`` vs ``$filter``, ``filter``
without the dollar, runs of spaces outside string literals — produce the same canonical JSON
and therefore the same ``params_hash``. Whitespace *inside* a quoted literal is data and is
kept exactly. Both the engine and the legacy backfill hash through here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "QUERY_OPTIONS",
    "canonical_filter",
    "canonical_params",
    "canonical_params_json",
    "filter_hash",
    "params_hash",
]

QUERY_OPTIONS = ("$filter", "$select", "$orderby", "$expand", "$top", "$skip", "$count")
_LIST_OPTIONS = {"$select", "$orderby", "$expand"}


def _option_name(name: str) -> str:
    folded = name.strip().lower()
    return folded if folded.startswith("$") else f"${folded}"


def canonical_filter(expression: str | None) -> str:
    """``expression`` with whitespace outside string literals collapsed to single spaces."""
    if not expression:
        return ""
    out: list[str] = []
    in_literal = False
    pending_space = False
    for char in expression.strip():
        if in_literal:
            out.append(char)
            if char == "'":
                in_literal = False  # a doubled '' re-opens on the next quote
            continue
        if char.isspace():
            pending_space = True
            continue
        if pending_space and out:
            out.append(" ")
        pending_space = False
        out.append(char)
        if char == "'":
            in_literal = True
    return "".join(out)


def _canonical_list(value: str) -> str:
    parts = [" ".join(part.split()) for part in value.split(",")]
    return ",".join(part for part in parts if part)


def canonical_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Option names case-folded and ``$``-prefixed, values normalised, empty values dropped."""
    result: dict[str, Any] = {}
    for raw_name, raw_value in params.items():
        if raw_value is None or raw_value == "":
            continue
        name = _option_name(str(raw_name))
        if name == "$filter":
            value: Any = canonical_filter(str(raw_value))
        elif name in _LIST_OPTIONS:
            value = _canonical_list(str(raw_value))
        elif name in {"$top", "$skip"}:
            value = int(raw_value)
        elif name == "$count":
            value = str(raw_value).strip().lower() in {"true", "1"}
        elif isinstance(raw_value, str):
            value = " ".join(raw_value.split())
        else:
            value = raw_value
        if name in result and result[name] != value:
            raise ValueError(f"query option {name} is given twice with different values")
        result[name] = value
    return dict(sorted(result.items()))


def canonical_params_json(params: Mapping[str, Any]) -> str:
    """The canonical params as compact JSON with sorted keys."""
    return json.dumps(
        canonical_params(params), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def params_hash(params: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of ``params``."""
    return _sha256(canonical_params_json(params))


def filter_hash(params_or_filter: Mapping[str, Any] | str | None) -> str:
    """SHA-256 hex of the canonical filter alone (the cursor's identity); '' hashes too."""
    if isinstance(params_or_filter, Mapping):
        expression = canonical_params(params_or_filter).get("$filter", "")
    else:
        expression = canonical_filter(params_or_filter)
    return _sha256(json.dumps({"$filter": expression}, separators=(",", ":"), ensure_ascii=False))
