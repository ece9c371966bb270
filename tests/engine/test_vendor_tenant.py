"""Against the `vendor` profile — the simulator as the vendor documents Clinical Conductor —
the tests that stand for a real tenant: every resource, a study's rows, the vendor's error
bodies, deep-$skip latency near the read timeout."""

from __future__ import annotations

import json

import httpx
import pytest

from cc_console.client.reasons import server_reason
from cc_console.engine import run_template
from cc_console.sim import RESOURCES
from tests.engine.test_sync import audit_complete
from tests.simulator_fixture import SMALL
from tests.tenant import SIM_KEY


def vendor_tenant(tenant, **sim):  # type: ignore[no-untyped-def]
    return tenant("vendor", sim=sim, default_page_size=100)  # CCAPIKey, as the profile wants


async def test_every_resource_of_a_vendor_tenant_lands_exactly(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = vendor_tenant(tenant, instance_type="CCE")  # site payments are CCE-only
    for resource in RESOURCES:
        summary = await run_template(aengine, t.template(f"/{resource}/odata"))
        assert summary.status == "succeeded", (resource, summary.message)
        assert summary.landed == SMALL[resource], resource
        assert summary.rejected == 0
        audit_complete(t, summary.run_id)
    invalid = t.scalar("SELECT count(*) FROM cc_schema_validation WHERE NOT ok")
    assert invalid == 0  # the built-in schemas read the vendor's shapes, fractional stamps too
    stamps = t.scalar(
        "SELECT payload ->> 'createdOn' FROM cc_silver_record WHERE resource_path = '/sites' LIMIT 1"
    )
    assert len(stamps.split(".")[-1]) == 7  # .NET's seven fractional digits


async def test_site_payments_on_a_ccs_tenant_are_a_501_with_no_body(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = vendor_tenant(tenant)
    summary = await run_template(aengine, t.template("/site-payments/odata"))
    assert summary.status == "failed" and summary.message.startswith("http_501")


async def test_a_study_scoped_sync_lands_only_that_studys_rows(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    t = vendor_tenant(tenant)
    for resource in ("visits", "elements", "subjects"):
        url, headers = f"{t.sim.running.api_url}/{resource}/odata", {"CCAPIKey": SIM_KEY}
        first = httpx.get(url, params={"$top": "1"}, headers=headers).json()["items"][0]
        study = first["study"]["id"]
        expected = httpx.get(
            url, params={"studyId": str(study), "$top": "1000"}, headers=headers
        ).json()["items"]
        summary = await run_template(aengine, t.template(f"/studies/{study}/{resource}/odata"))
        assert summary.status == "succeeded" and summary.landed == len(expected) > 0
        studies = {
            s
            for (s,) in t.rows(
                "SELECT DISTINCT payload -> 'study' ->> 'id' FROM cc_silver_record"
                " WHERE resource_path = :p",
                p=f"/{resource}",
            )
        }
        assert studies == {str(study)}
    unknown = await run_template(aengine, t.template("/studies/99999/visits/odata"))
    assert unknown.status == "failed" and unknown.message.startswith("http_404")


@pytest.mark.parametrize(
    ("resource", "shape"),
    [
        ("subjects", "array"),
        ("visits", "object"),
        ("patient-visits", "message"),
        ("elements", "none"),
    ],
)
async def test_each_vendor_error_shape_is_classified_and_its_message_shown(
    tenant, aengine, resource, shape
) -> None:  # type: ignore[no-untyped-def]
    t = vendor_tenant(tenant)
    template = t.template(f"/{resource}/odata", **{"$filter": "id gt '5'"})
    summary = await run_template(aengine, template)
    assert summary.status == "failed" and summary.message.startswith("http_400")
    body = t.scalar("SELECT coalesce(body::text, body_text, '') FROM cc_api_response_log")
    if shape == "none":
        assert body == "" and summary.message.endswith("HTTP 400 from /" + resource + "/odata")
    else:
        assert "incompatible types" in summary.message  # the vendor's reason, whatever shape
        assert ("[" if shape == "array" else "{") == body.lstrip()[:1]


@pytest.mark.parametrize(
    "body",
    [
        b'[{"error":"InvalidQuery","message":"Bad thing","data":null}]',
        b'{"error":"InvalidQuery","message":"Bad thing","data":null}',
        b'{"Message":"Bad thing"}',
        b'{"error":{"code":"BadRequest","message":"Bad thing","details":[]}}',
        b"<html><body><h1>Bad thing</h1></body></html>",
    ],
)
def test_every_error_body_shape_gives_its_reason(body: bytes) -> None:
    assert server_reason(body, []) == "Bad thing"


def test_a_reason_is_masked_before_it_is_cut() -> None:
    key = "FAKE-key-in-an-echo-0123456789"
    reason = server_reason(("x" * 190 + key).encode(), [key])
    assert reason is not None and key[:10] not in reason and len(reason) <= 200


async def test_deep_skip_latency_near_the_read_timeout_is_survived(tenant, aengine) -> None:  # type: ignore[no-untyped-def]
    # 40 ms + up to 150 ms of jitter + 1 s per 1000 skipped: the deepest pages answer in
    # 0.4-0.6 s against a 0.5 s read timeout — some time out, their retries get through
    t = tenant(
        "vendor",
        sim={"latency_jitter_ms": 150, "deep_skip_ms_per_1000": 1000, "seed": 3},
        default_page_size=20,
        read_timeout_s=0.5,
        max_retries=8,
        backoff_base_s=0.05,
        backoff_max_s=0.2,
    )
    summary = await run_template(aengine, t.template("/patient-visits/odata"))
    assert summary.status == "succeeded" and summary.landed == SMALL["patient-visits"]
    timeouts = t.scalar("SELECT count(*) FROM cc_error_event WHERE kind = 'timeout'")
    assert timeouts > 0  # it was near: some attempts did time out
    assert summary.requests <= summary.pages * 3  # and no storm: a few retries a page at most


def test_config_add_on_a_tenant_url_without_the_preset_says_ccapikey(cli) -> None:  # type: ignore[no-untyped-def]
    added = cli(
        "config",
        "add",
        "t",
        "--base-url",
        "https://acme.clinicalconductor.com/CCSWeb/api/v1",
        "--secret-ref",
        "env:CC_TEST_API_KEY",
    )
    assert added.exit_code == 0
    assert "CCAPIKey" in added.stderr and "--auth-header CCAPIKey" in added.stderr
    quiet = cli(
        "config",
        "add",
        "u",
        "--preset",
        "clinical-conductor",
        "--base-url",
        "https://acme.clinicalconductor.com/CCSWeb/api/v1",
        "--secret-ref",
        "env:K",
    )
    assert quiet.exit_code == 0 and "CCAPIKey" not in quiet.stderr


def test_template_add_study_and_discover_on_a_cc_config(cli) -> None:  # type: ignore[no-untyped-def]
    cli(
        "config",
        "add",
        "cc",
        "--preset",
        "clinical-conductor",
        "--base-url",
        "https://acme.clinicalconductor.com/CCSWeb/api/v1",
        "--secret-ref",
        "env:CC_TEST_API_KEY",
    )
    scoped = cli("template", "add", "cc", "/visits/odata", "--study", "3", "--json")
    assert scoped.exit_code == 0, scoped.stderr
    assert json.loads(scoped.stdout)["resource_path"] == "/studies/3/visits/odata"
    other = json.loads(
        cli("template", "add", "cc", "/visits/odata", "--study", "4", "--json").stdout
    )
    assert other["filter_hash"] == json.loads(scoped.stdout)["filter_hash"]  # yet its own cursor:
    assert other["resource_path"] != json.loads(scoped.stdout)["resource_path"]  # by its path
    refused = cli("template", "add", "cc", "/sites/odata", "--study", "3")
    assert refused.exit_code == 2 and "--study" in refused.stderr
    listed = json.loads(cli("discover", "cc", "--no-count", "--json").stdout)
    scoped_names = {r["name"] for r in listed if r["study_scoped"]}
    assert scoped_names == {"subjects", "visits", "elements"} and len(listed) == 8
    table = cli("discover", "cc", "--no-count").stdout
    by_study = {
        line.split()[0]: line.split()[-2] for line in table.splitlines() if "  id  " in line
    }
    assert by_study["visits"] == "yes" and by_study["sites"] == "-"  # the "by study" column
