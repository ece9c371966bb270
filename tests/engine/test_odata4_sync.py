"""Any standard OData v4 service syncs with nothing but `config add`, `template add`, `sync`:
keys from $metadata (composite and inherited too), Silver equal to $count, no duplicates."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import create_engine, text

from cc_console.sim.odata4 import DEFAULT_SIZES
from tests.tenant import KEY_ENV, SIM_KEY

# the sets whose maximum page size is at least a config's default $top (100); a capped set
# (Products, 50) pages by relative next links: part 2 of the real-servers work
SETS = {
    "Customers": ("CustomerID",),
    "Orders": ("OrderID",),
    "PriorityOrders": ("OrderID",),  # the key of the base type
    "OrderLines": ("OrderID", "LineNumber"),  # composite
}


@pytest.fixture
def service(cli, simulator, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv(KEY_ENV, SIM_KEY)
    sim = simulator("clean", dialect="odata4", api_key=SIM_KEY, rate_limit={"enabled": False})
    added = cli(
        "config",
        "add",
        "acc",
        "--preset",
        "odata4",
        "--base-url",
        sim.running.odata_url,
        "--secret-ref",
        f"env:{KEY_ENV}",
    )
    assert added.exit_code == 0, added.stderr
    return sim


def server_keys(sim: Any, name: str, key: tuple[str, ...]) -> set[str]:
    url = f"{sim.running.odata_url}/{name}?$top=100000"
    headers = {sim.running.config.auth_header: SIM_KEY}
    rows: list[dict[str, Any]] = []
    while url:
        body = httpx.get(url, headers=headers).json()
        rows += body["value"]
        link = body.get("@odata.nextLink")
        url = f"{sim.running.odata_url}/{link}" if link else ""
    if len(key) == 1:
        return {str(r[key[0]]) for r in rows}
    return {json.dumps([r[k] for k in key]) for r in rows}


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_entity_set_syncs_exactly(service, cli, db_url, name: str) -> None:  # type: ignore[no-untyped-def]
    added = cli("template", "add", "acc", f"/{name}", "--json")
    assert added.exit_code == 0, added.stderr
    template = json.loads(added.stdout)
    assert tuple(template["key"]) == SETS[name]
    assert template["record_schema"]["entity_type"].startswith("Demo.Sales.")
    started = time.perf_counter()
    synced = cli("sync", "-t", template["id"], "--json")
    took = time.perf_counter() - started
    assert synced.exit_code == 0, synced.stdout + synced.stderr
    summary = json.loads(synced.stdout)
    n = DEFAULT_SIZES[name]
    assert summary["status"] == "succeeded" and summary["reconciled"] is True
    assert summary["odata_count"] == summary["landed"] == summary["records"] == n
    assert summary["rejected"] == 0
    engine = create_engine(db_url)
    with engine.connect() as conn:
        keys = list(conn.scalars(text("SELECT record_key FROM cc_silver_record")))
        invalid = conn.scalar(text("SELECT count(*) FROM cc_schema_validation WHERE NOT ok"))
    engine.dispose()
    assert len(keys) == len(set(keys)) == n  # Silver = $count, no duplicates
    assert {k.replace(", ", ",") for k in keys} == {
        k.replace(", ", ",") for k in server_keys(service, name, SETS[name])
    }
    assert invalid == 0  # every record matched the Edm types of $metadata
    print(
        f"{name}: {n} records, {summary['requests']} requests, {len(keys)} Silver rows,"
        f" {took:.2f} s"
    )


def test_a_set_the_metadata_does_not_declare_is_refused(service, cli) -> None:  # type: ignore[no-untyped-def]
    refused = cli("template", "add", "acc", "/Invoices")
    assert refused.exit_code == 2
    assert "has no entity set 'Invoices'" in refused.stderr and "Orders" in refused.stderr


def test_a_clinical_conductor_config_needs_a_key_for_a_set_it_does_not_know(cli) -> None:  # type: ignore[no-untyped-def]
    cli(
        "config",
        "add",
        "cc",
        "--base-url",
        "https://h.example.test/api/v1",
        "--secret-ref",
        "env:CC_TEST_API_KEY",
    )
    refused = cli("template", "add", "cc", "/Orders")
    assert refused.exit_code == 2 and "--key" in refused.stderr and "odata4" in refused.stderr
    given = cli("template", "add", "cc", "/Orders", "--key", "OrderID", "--json")
    assert given.exit_code == 0 and json.loads(given.stdout)["key"] == ["OrderID"]
    builtin = cli("template", "add", "cc", "/studies/odata", "--json")
    assert builtin.exit_code == 0 and json.loads(builtin.stdout)["key"] == ["id"]
    bad = cli("template", "add", "cc", "/Orders", "--key", "OrderID,,X")
    assert bad.exit_code == 2 and "--key" in bad.stderr


HOSTILE = {
    "huge": b"<x>" + b"a" * (9 * 1024 * 1024) + b"</x>",
    "entities": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
    b"<x>&b;</x>",
    "not-xml": b'{"value": []}',
    "not-csdl": b"<html><body>login</body></html>",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_metadata_is_refused_in_one_line(cli, kind: str) -> None:  # type: ignore[no-untyped-def]
    cli(
        "config",
        "add",
        "evil",
        "--preset",
        "odata4",
        "--base-url",
        "https://evil.example.test/odata",
        "--secret-ref",
        "env:CC_TEST_API_KEY",
    )
    with respx.mock:
        respx.get("https://evil.example.test/odata/$metadata").mock(
            return_value=httpx.Response(200, content=HOSTILE[kind])
        )
        refused = cli("template", "add", "evil", "/Orders")
    assert refused.exit_code == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "$metadata" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_discover_lists_every_set_and_adds_templates_that_sync(service, cli) -> None:  # type: ignore[no-untyped-def]
    listed = cli("discover", "acc", "--json")
    assert listed.exit_code == 0, listed.stderr
    sets = {s["name"]: s for s in json.loads(listed.stdout)}
    assert set(sets) == set(DEFAULT_SIZES)
    assert {n: s["count"] for n, s in sets.items()} == DEFAULT_SIZES
    assert sets["OrderLines"]["key"] == ["OrderID", "LineNumber"]
    assert sets["Orders"]["properties"]["OrderDate"] == "Edm.DateTimeOffset"
    text_out = cli("discover", "acc", "--no-count").stdout
    assert "OrderLines" in text_out and "OrderID,LineNumber" in text_out
    added = json.loads(cli("discover", "acc", "--add-templates", "--no-count", "--json").stdout)
    assert all(s["template"]["created"] for s in added)
    again = json.loads(cli("discover", "acc", "--add-templates", "--no-count", "--json").stdout)
    assert not any(s["template"]["created"] for s in again)  # the same query twice: one template
    synced = cli("sync", "-t", "acc-Orders", "--json")
    assert json.loads(synced.stdout)["landed"] == DEFAULT_SIZES["Orders"]
