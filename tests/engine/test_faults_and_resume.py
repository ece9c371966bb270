"""Faults become the right error kinds; partial runs resume to an exact Silver."""

from __future__ import annotations

import pytest

from cc_console.engine import run_template
from tests.simulator_fixture import SMALL

FAULT_KINDS = {
    "error_500": "http_500",
    "error_502": "http_502",
    "error_503": "http_503",
    "error_503_bare": "http_503",
    "error_504": "http_504",
    "reset": "reset",
    "stall": "timeout",
}


@pytest.mark.parametrize("fault", sorted(FAULT_KINDS))
async def test_transient_faults_are_retried_with_the_right_kind(tenant, aengine, fault) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={
            "rate_limit": {"enabled": False},
            "faults": {fault: 0.2},
            "seed": 5,
            "stall_seconds": 1.0,
        },
        default_page_size=40,
        read_timeout_s=0.3,
        max_retries=10,
    )
    summary = await run_template(aengine, t.template("/patient-visits/odata"))
    assert summary.status == "succeeded", summary.message
    assert summary.records == SMALL["patient-visits"]
    injected = t.sim.stats()["faults"].get(fault, 0)
    kinds = [k for (k,) in t.rows("SELECT kind FROM cc_error_event")]
    assert injected > 0 and kinds == [FAULT_KINDS[fault]] * injected
    assert summary.retries == injected and summary.errors == injected


@pytest.mark.parametrize(
    ("fault", "kind", "stored"),
    [
        pytest.param("malformed", "parse", "body_text", id="malformed"),
        pytest.param("html", "http_502", "body_text", id="html"),
        pytest.param("error_500", "http_500", None, id="500-not-retried"),
    ],
)
async def test_bad_bodies_end_the_run_and_are_kept(tenant, aengine, fault, kind, stored) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "faults": {fault: 1.0}},
        retry_http_500=False,
        max_retries=0,
        parse_retries=0,
    )
    summary = await run_template(aengine, t.template("/elements/odata"))
    assert summary.status == "failed" and summary.message.startswith(kind)
    ((event_kind, retryable),) = t.rows("SELECT kind, retryable FROM cc_error_event")
    assert event_kind == kind
    ((parse_ok, body, body_text, size),) = t.rows(
        "SELECT parse_ok, body, body_text, size_bytes FROM cc_api_response_log"
    )
    assert parse_ok is False and size > 0
    if stored == "body_text":
        assert body is None and body_text  # never dropped: kept as raw text


async def test_a_body_that_is_no_json_is_fetched_again_before_the_run_stops(
    tenant, aengine
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(sim={"rate_limit": {"enabled": False}, "faults": {"malformed": 1.0}}, max_retries=0)
    summary = await run_template(aengine, t.template("/elements/odata"))
    assert summary.status == "failed" and summary.message.startswith("parse")
    events = t.rows("SELECT kind, retryable FROM cc_error_event ORDER BY occurred_at")
    assert events == [("parse", True), ("parse", True), ("parse", False)]  # 2 retries, then final
    kept = t.rows("SELECT body_text IS NOT NULL FROM cc_api_response_log")
    assert kept == [(True,)] * 3 and summary.requests == 3  # every attempt's body kept


async def test_cut_off_and_unparseable_bodies_are_retried_and_the_run_succeeds(
    tenant, aengine
) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "faults": {"truncated": 0.2, "malformed": 0.1}},
        default_page_size=20,
        max_retries=8,
        parse_retries=6,
    )
    summary = await run_template(aengine, t.template("/patient-visits/odata"))
    assert summary.status == "succeeded", summary.message
    assert summary.landed == SMALL["patient-visits"] and summary.reconciled
    faults = t.sim.stats()["faults"]
    kinds = [k for (k,) in t.rows("SELECT kind FROM cc_error_event ORDER BY occurred_at")]
    assert kinds.count("truncated") == faults["truncated"] > 0
    assert kinds.count("parse") == faults["malformed"] > 0


async def test_foreign_next_link_is_refused(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "faults": {"foreign_next_link": 1.0}},
        default_page_size=20,
    )
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "partial" and summary.pages == 1
    assert summary.message.startswith("foreign_next_link")
    assert t.scalar("SELECT count(*) FROM cc_api_request_log") == 1
    assert (
        t.scalar("SELECT count(*) FROM cc_api_request_log WHERE url LIKE '%example.invalid%'") == 0
    )
    assert t.scalar("SELECT kind FROM cc_error_event") == "foreign_next_link"
    # the refused link is not kept: a resume pages on with $skip from where it stopped
    assert t.rows("SELECT next_link, next_skip FROM cc_pagination_state") == [(None, 12)]


async def test_partial_run_resumes_to_an_exact_silver(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "faults": {"malformed": 0.15}, "seed": 9},
        default_page_size=25,
        parse_retries=0,  # a malformed page stops the run: the chain of resumes is the test
    )
    template = t.template("/patient-visits/odata")
    summary = await run_template(aengine, template)
    chain = [summary]
    while summary.status != "succeeded" and len(chain) < 40:
        summary = await run_template(
            aengine,
            template,
            trigger="resume",
            parent_run_id=__import__("uuid").UUID(summary.run_id),
        )
        chain.append(summary)
    assert summary.status == "succeeded" and len(chain) > 1
    assert t.scalar("SELECT count(*) FROM cc_silver_record") == SMALL["patient-visits"]
    assert (
        t.scalar("SELECT count(DISTINCT record_key) FROM cc_silver_record")
        == SMALL["patient-visits"]
    )
    parents = t.rows(
        "SELECT parent_run_id FROM cc_sync_run WHERE trigger = 'resume' ORDER BY started_at"
    )
    assert [str(p) for (p,) in parents] == [s.run_id for s in chain[:-1]]
    assert sum(s.records for s in chain) == SMALL["patient-visits"]  # nothing fetched twice


async def test_drift_is_recorded(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"enabled": False}, "drift_after": 1, "drift_kind": "rename"},
        default_page_size=10,
    )
    summary = await run_template(aengine, t.template("/visits/odata"))
    assert summary.status == "succeeded"
    drifts = t.rows("SELECT ok, drift FROM cc_schema_validation ORDER BY checked_at")
    assert drifts[0] == (True, None)
    assert drifts[-1][0] is False and drifts[-1][1] == {"added": ["fullName"], "missing": ["name"]}
    assert t.scalar("SELECT count(*) FROM cc_silver_record WHERE NOT valid") > 0


async def test_rate_limited_server_429s_are_waited_out(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(
        sim={"rate_limit": {"per_second": 20, "burst": 2, "per_minute": 1000}},
        default_page_size=20,
        max_retries=20,
    )
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "succeeded" and summary.records == SMALL["sites"]
    assert summary.http_429 == t.sim.stats()["rate_limited"]


@pytest.mark.parametrize("profile", ["flaky", "hostile"])
async def test_profiles_end_succeeded_or_partial_and_resume_to_exact(
    tenant, aengine, profile
) -> None:  # type: ignore[no-untyped-def]
    import uuid

    t = tenant(
        profile,
        sim={
            "latency_ms": 0,
            "latency_jitter_ms": 0,
            "stall_seconds": 1,
            "mutate_rate": 0,
            "seed": 21,
            "rate_limit": {"per_second": 200, "burst": 50, "retry_after_date": False},
        },
        default_page_size=5,
        read_timeout_s=0.5,
        max_retries=8,
    )
    template = t.template("/patient-visits/odata")
    summary = await run_template(aengine, template)
    statuses = [summary.status]
    while summary.status != "succeeded" and len(statuses) < 60:
        assert summary.status in ("partial", "failed")
        summary = await run_template(
            aengine, template, trigger="resume", parent_run_id=uuid.UUID(summary.run_id)
        )
        statuses.append(summary.status)
    assert summary.status == "succeeded"
    kinds = {k for (k,) in t.rows("SELECT DISTINCT kind FROM cc_error_event")}
    assert kinds <= {
        "http_500",
        "http_502",
        "http_503",
        "http_504",
        "reset",
        "truncated",
        "timeout",
        "parse",
        "http_429",
        "foreign_next_link",
    }
    assert kinds, t.sim.stats()
    silver = t.scalar("SELECT count(*) FROM cc_silver_record")
    assert silver == SMALL["patient-visits"]
    t.assert_audit_trail_proved()  # every fault, retry and resume in sealed chains


async def test_unreachable_api_fails_after_bounded_retries(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = tenant(base_url="http://127.0.0.1:9/api/v1", max_retries=2)
    summary = await run_template(aengine, t.template("/sites/odata"))
    assert summary.status == "failed" and summary.message.startswith("connect")
    assert summary.requests == 3 and summary.retries == 2 and summary.errors == 3
    assert summary.wait_s > 0  # the backoff between attempts is on the run
