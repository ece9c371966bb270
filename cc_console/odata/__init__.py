"""Pure OData helpers: canonical query parameters and their hashes (no I/O)."""

from __future__ import annotations

from .canonical import (
    QUERY_OPTIONS,
    canonical_filter,
    canonical_params,
    canonical_params_json,
    filter_hash,
    params_hash,
)
from .filters import FilterSyntaxError, check_filter

__all__ = [
    "FilterSyntaxError",
    "QUERY_OPTIONS",
    "canonical_filter",
    "canonical_params",
    "canonical_params_json",
    "check_filter",
    "filter_hash",
    "params_hash",
]
