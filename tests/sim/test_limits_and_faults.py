"""Auth, rate limits, seeded faults and schema drift of the simulator, over a real socket."""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

import httpx
import pytest


def statuses(sim, n: int, path: str = "/visits/odata") -> list[int]:  # type: ignore[no-untyped-def]
    return [sim.get(path, **{"$top": 5}).status_code for _ in range(n)]


def test_auth_header_and_key(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(auth_header="CCAPIKey", api_key="fake-key-1")
    assert sim.get("/sites/odata").status_code == 200
    for headers in ({}, {"CCAPIKey": "wrong"}, {"X-ApiKey": "fake-key-1"}):
        response = httpx.get(f"{sim.running.api_url}/sites/odata", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"Message": "Authorization has been denied for this request."}


def test_vendor_profile_has_no_rate_limit(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator("vendor", api_key="k")
    assert sim.running.config.auth_header == "CCAPIKey"
    assert set(statuses(sim, 40)) == {200}


def test_rate_limit_per_minute_answers_429_with_retry_after(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(
        rate_limit={
            "per_minute": 5,
            "burst": 100,
            "per_second": 100,
            "x_ratelimit_headers": True,
            "ietf_headers": True,
        }
    )
    first = sim.get("/visits/odata")
    assert first.headers["X-RateLimit-Limit"] == "5"
    assert first.headers["X-RateLimit-Remaining"] == "4"
    assert int(first.headers["X-RateLimit-Reset"]) > 1_600_000_000  # epoch seconds
    assert first.headers["RateLimit-Policy"] == "100;w=1, 5;w=60"
    codes = statuses(sim, 6)
    assert codes == [200] * 4 + [429] * 2
    limited = sim.get("/visits/odata")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()[0]["error"] == "TooManyRequests"
    assert sim.stats()["rate_limited"] == 3
    sim.reset()
    assert sim.get("/visits/odata").status_code == 200


def test_per_endpoint_limits_say_so_and_retry_after_only_sends_no_counters(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(
        rate_limit={"per_second": 100, "burst": 100, "per_minute": 10_000,
                    "endpoint_per_second": 1}
    )  # fmt: skip
    first, limited = sim.get("/visits/odata"), sim.get("/visits/odata")
    assert (first.status_code, limited.status_code) == (200, 429)
    assert limited.headers["X-RateLimit-Scope"] == "endpoint"
    assert int(limited.headers["Retry-After"]) >= 1
    assert not any(
        h.lower().startswith(("x-ratelimit-limit", "ratelimit")) for h in limited.headers
    )
    assert sim.get("/sites/odata").status_code == 200  # another endpoint has its own bucket
    sim = simulator(rate_limit={"per_second": 1, "burst": 1, "per_minute": 10_000})
    assert statuses(sim, 2) == [200, 429]
    whole = sim.get("/sites/odata")  # the key's own limit: no scope named
    assert whole.status_code == 429 and "X-RateLimit-Scope" not in whole.headers


def test_retry_after_as_http_date(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(rate_limit={"per_minute": 1, "retry_after_date": True})
    assert statuses(sim, 2) == [200, 429]
    header = sim.get("/visits/odata").headers["Retry-After"]
    assert parsedate_to_datetime(header).tzinfo is not None


def test_faults_follow_the_seed_and_the_rate(simulator) -> None:  # type: ignore[no-untyped-def]
    rates = {"error_500": 0.1, "error_503": 0.1}
    runs = []
    for seed in (11, 11, 12):
        sim = simulator(seed=seed, faults=rates, rate_limit={"enabled": False})
        runs.append(statuses(sim, 300))
        stats = sim.stats()
        assert stats["faults"].get("error_500", 0) == runs[-1].count(500)
        assert stats["faults"].get("error_503", 0) == runs[-1].count(503)
    assert runs[0] == runs[1] and runs[0] != runs[2]
    for run in runs:  # 30 expected each; 4 sigma is about 21
        assert 12 <= run.count(500) <= 50 and 12 <= run.count(503) <= 50


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        pytest.param(
            "error_500",
            lambda r: r.status_code == 500 and r.json()[0]["error"] == "ServerError",
            id="500",
        ),
        pytest.param("error_502", lambda r: r.status_code == 502, id="502"),
        pytest.param(
            "error_503",
            lambda r: r.status_code == 503 and r.headers["Retry-After"] == "1",
            id="503-retry-after",
        ),
        pytest.param(
            "error_503_bare",
            lambda r: r.status_code == 503 and "Retry-After" not in r.headers,
            id="503-bare",
        ),
        pytest.param("error_504", lambda r: r.status_code == 504, id="504"),
        pytest.param(
            "html",
            lambda r: r.status_code == 502 and r.headers["content-type"].startswith("text/html"),
            id="html",
        ),
        pytest.param(
            "wrong_content_type",
            lambda r: (
                r.status_code == 200
                and r.headers["content-type"].startswith("text/plain")
                and json.loads(r.text)
            ),
            id="content-type",
        ),
        pytest.param(
            "foreign_next_link",
            lambda r: r.json()["nextPageLink"].startswith("https://cc-mirror.example.invalid/"),
            id="foreign-next-link",
        ),
    ],
)
def test_each_fault_looks_as_advertised(simulator, fault, check) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(faults={fault: 1.0})
    assert check(sim.get("/visits/odata"))
    assert sim.stats()["faults"] == {fault: 1}


def test_a_malformed_body_is_a_complete_answer_that_is_no_json(simulator) -> None:  # type: ignore[no-untyped-def]
    response = simulator(faults={"malformed": 1.0}).get("/visits/odata")
    assert response.status_code == 200
    assert len(response.content) == int(response.headers["content-length"])  # all of it
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_a_truncated_body_ends_before_its_content_length(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(faults={"truncated": 1.0})
    with sim.http.stream("GET", "/visits/odata", params={"$top": "30"}) as response:
        assert response.status_code == 200  # the answer began ...
        announced = int(response.headers["content-length"])
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete|complete message body"):
            response.read()  # ... and was cut off
    assert announced > 0


def test_a_reset_drops_the_connection_before_any_answer(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(faults={"reset": 1.0})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        sim.get("/visits/odata", **{"$top": 30})


def test_stall_exceeds_a_client_timeout(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(faults={"stall": 1.0}, stall_seconds=3)
    with pytest.raises(httpx.ReadTimeout):
        sim.http.get("/visits/odata", timeout=httpx.Timeout(10, read=0.3))


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        pytest.param("rename", lambda r: "fullName" in r and "name" not in r, id="rename"),
        pytest.param(
            "retype",
            lambda r: isinstance(r["isActive"], str) or isinstance(r["budget"], str),
            id="retype",
        ),
        pytest.param("add", lambda r: r.get("simulatorAddedField") == "drift", id="add"),
        pytest.param("remove", lambda r: "uid" not in r, id="remove"),
    ],
)
def test_schema_drift_after_n_requests(simulator, kind, check) -> None:  # type: ignore[no-untyped-def]
    sim = simulator(drift_after=3, drift_kind=kind)
    before = [sim.get("/visits/odata", **{"$top": 2}).json()["items"][0] for _ in range(3)]
    after = sim.get("/visits/odata", **{"$top": 2}).json()["items"][0]
    assert not any(check(r) for r in before)
    assert check(after) and sim.stats()["drift_active"] is True


def test_stats_count_what_the_client_sent(simulator) -> None:  # type: ignore[no-untyped-def]
    sim = simulator()
    for _ in range(3):
        sim.get("/sites/odata")
    sim.get("/sites/odata", **{"$filter": "nope eq 1"})
    httpx.get(f"{sim.running.api_url}/sites/odata")
    stats = sim.stats()
    assert stats["by_endpoint"]["/api/v1/sites/odata"] == {"200": 3, "400": 1, "401": 1}
    assert stats["records_served"] == 3 * 12 and stats["seed"] == 7
    sim.reset()
    assert sim.stats()["requests_total"] == 0


def test_profiles_turn_limits_and_faults_on(simulator) -> None:  # type: ignore[no-untyped-def]
    from cc_console.sim import sim_config

    assert sim_config("vendor").rate_limit.enabled is False
    for name in ("clean", "flaky", "hostile"):
        assert sim_config(name).rate_limit.enabled is True
    assert sim_config("flaky").faults.table() and sim_config("hostile").drift_after
    assert not sim_config("clean").faults.table()
    with pytest.raises(ValueError, match="unknown profile"):
        sim_config("chaotic")


def test_cli_rejects_bad_options(cli) -> None:  # type: ignore[no-untyped-def]
    for args in (
        ["--records", "nope=3"],
        ["--fault", "meteor=0.1"],
        ["--profile", "chaotic"],
        ["--fault", "error_500=7"],
    ):
        result = cli("sim", *args)
        assert result.exit_code == 2, args
        assert len(result.stderr.strip().splitlines()) == 1
