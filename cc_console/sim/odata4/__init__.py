"""A standard OData v4 service, built from the OData v4.01 specification (see model.py)."""

from __future__ import annotations

from .model import DEFAULT_SIZES, SETS
from .service import ODataService, odata_error

__all__ = ["DEFAULT_SIZES", "SETS", "ODataService", "odata_error"]
