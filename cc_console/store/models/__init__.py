"""SQLAlchemy models of the cc-console tables (mirrored by db/migrations)."""

from __future__ import annotations

from .actions import OperatorAction
from .audit import PARTITIONED_TABLES, ApiRequestLog, ApiResponseLog, SchemaValidation
from .base import Base
from .chains import AuditAmendment, AuditChain, AuditSeal
from .config import ApiClientConfig, OdataQueryTemplate
from .redaction import RedactionKey, RedactionPolicy
from .runs import ErrorEvent, SyncRun
from .silver import RunSeenKey, SilverHistory, SilverRecord
from .state import PaginationState, RateLimitState
from .workers import WorkerName

__all__ = [
    "PARTITIONED_TABLES",
    "ApiClientConfig",
    "ApiRequestLog",
    "ApiResponseLog",
    "AuditAmendment",
    "AuditChain",
    "AuditSeal",
    "Base",
    "ErrorEvent",
    "OdataQueryTemplate",
    "OperatorAction",
    "PaginationState",
    "RateLimitState",
    "RedactionKey",
    "RedactionPolicy",
    "RunSeenKey",
    "SchemaValidation",
    "SilverHistory",
    "SilverRecord",
    "SyncRun",
    "WorkerName",
]
