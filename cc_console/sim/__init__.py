"""A simulated Clinical Conductor API for the demo, integration tests and benchmarks.

It shares no code with ``client/`` or ``odata/``: a bug in one must not hide a bug in the other.
"""

from __future__ import annotations

from .app import Simulator, create_app
from .config import PROFILES, FaultRates, RateLimitPolicy, SimConfig, sim_config
from .data import DEFAULT_SIZES, RESOURCES
from .server import RunningSimulator, run_in_thread, serve_forever

__all__ = [
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
]
