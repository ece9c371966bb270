"""The public names of each package are pinned: changing them is a deliberate act."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "cc_console": ["__version__"],
    "cc_console.odata": [
        "QUERY_OPTIONS",
        "FilterSyntaxError",
        "canonical_filter",
        "canonical_params",
        "canonical_params_json",
        "check_filter",
        "filter_hash",
        "params_hash",
    ],
    "cc_console.client": [
        "SecretUnavailable",
        "key_fingerprint",
        "resolve_secret",
        "validate_secret_ref",
    ],
    "cc_console.engine": [
        "CompanionFactory",
        "CursorBusy",
        "RunCompanion",
        "RunSummary",
        "mark_stale_runs",
        "run_template",
    ],
    "cc_console.sim": [
        "DEFAULT_SIZES",
        "PROFILES",
        "RESOURCES",
        "FaultRates",
        "RateLimitPolicy",
        "RunningSimulator",
        "SimConfig",
        "Simulator",
        "create_app",
        "run_in_thread",
        "serve_forever",
        "sim_config",
    ],
    "cc_console.store.models": [
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
    ],
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_exported_members(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(EXPECTED[module_name])
    for name in module.__all__:
        assert hasattr(module, name), name
