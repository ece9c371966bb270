"""A real simulator on a loopback socket, per test, configured by the test (see conftest)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from cc_console.sim import RunningSimulator, run_in_thread, sim_config

SMALL = {
    "sites": 12,
    "studies": 40,
    "patients": 300,
    "subjects": 250,
    "visits": 30,
    "patient-visits": 400,
    "elements": 60,
    "site-payments": 25,
}


class SimClient:
    """An httpx client bound to one running simulator, with its key."""

    def __init__(self, running: RunningSimulator) -> None:
        self.running = running
        self.http = httpx.Client(
            base_url=running.api_url,
            headers={running.config.auth_header: running.config.api_key},
            timeout=10,
        )

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params={k: str(v) for k, v in params.items()})

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.running.base_url}/__sim/stats").json()

    def reset(self) -> None:
        httpx.post(f"{self.running.base_url}/__sim/reset").raise_for_status()


@pytest.fixture
def simulator() -> Iterator[Callable[..., SimClient]]:
    """``simulator(profile="clean", **overrides)`` starts one; all stop after the test."""
    with ExitStack() as stack:

        def start(profile: str = "clean", **overrides: Any) -> SimClient:
            overrides.setdefault("sizes", SMALL)
            running = stack.enter_context(run_in_thread(sim_config(profile, **overrides)))
            client = SimClient(running)
            stack.callback(client.http.close)
            return client

        yield start
