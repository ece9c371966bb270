"""Legacy cutover: backfill the feature-api-client's history, prove parity."""

from __future__ import annotations

from .backfill import BackfillSummary, backfill
from .reader import legacy_engine
from .verify import verify

__all__ = ["BackfillSummary", "backfill", "legacy_engine", "verify"]
