"""Four engines sharing one config stay under the server's limit together."""

from __future__ import annotations

import asyncio

from cc_console.engine import run_template

RESOURCES = ("/patient-visits/odata", "/patients/odata", "/subjects/odata", "/elements/odata")


async def four_engines(tenant, aengine, *, coordinate: bool) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={
            "rate_limit": {"per_second": 10, "burst": 10, "per_minute": 10_000},
            "sizes": {"patient-visits": 300, "patients": 300, "subjects": 300, "elements": 300},
        },
        default_page_size=30,
        max_requests_per_second=9 if coordinate else None,
        max_retries=30,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
    )
    templates = [t.template(path) for path in RESOURCES]
    summaries = await asyncio.gather(
        *(run_template(aengine, template, coordinate=coordinate) for template in templates)
    )
    return t.sim.stats()["rate_limited"], [s.status for s in summaries]


async def test_shared_pacing_avoids_429s(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    coordinated, statuses = await four_engines(tenant, aengine, coordinate=True)
    assert statuses == ["succeeded"] * 4
    uncoordinated, statuses = await four_engines(tenant, aengine, coordinate=False)
    assert statuses == ["succeeded"] * 4
    assert coordinated <= 2  # zero or near it: pacing keeps 4 engines under 10 req/s
    assert coordinated < uncoordinated


def test_no_coordination_leaves_the_shared_state_alone(tenant, cli) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}}, default_page_size=50)
    template = t.template("/sites/odata")
    alone = cli("sync", "-t", str(template), "--no-coordination", "--json")
    assert alone.exit_code == 0, alone.stderr
    scopes = "SELECT count(*) FROM cc_rate_limit_state WHERE config_id = :c"
    assert t.scalar(scopes, c=t.config_id) == 0  # nothing shared, nothing paced together
    name = t.scalar("SELECT name FROM cc_api_client_config WHERE id = :c", c=t.config_id)
    assert cli("config", "edit", name, "--no-coordinate").exit_code == 0
    assert cli("sync", "-t", str(template)).exit_code == 0
    assert t.scalar(scopes, c=t.config_id) == 0  # the config's own choice
    assert cli("config", "edit", name, "--coordinate").exit_code == 0
    assert cli("sync", "-t", str(template)).exit_code == 0
    assert t.scalar(scopes, c=t.config_id) == 2  # global and the endpoint
