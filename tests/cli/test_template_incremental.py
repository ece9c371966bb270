"""`template add --incremental`: only fields a vendor schema or $metadata says are
modification stamps, dates or integers; each refusal is one line that says what to do; the
end to end run from the README's commands: sync, change, sync again, `template show`."""

from __future__ import annotations

import json

import httpx

from tests.engine import test_odata4_sync
from tests.tenant import KEY_ENV, SIM_KEY

service = test_odata4_sync.service  # an OData v4 simulator with config "acc" (a fixture)

CC = "https://acme.clinicalconductor.com/CCSWeb/api/v1"


def cc_config(cli, url: str = CC) -> None:  # type: ignore[no-untyped-def]
    added = cli(
        "config", "add", "cc", "--preset", "clinical-conductor", "--base-url", url,
        "--secret-ref", f"env:{KEY_ENV}",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr


def test_clinical_conductor_allows_only_the_study_stamp_and_says_why(cli) -> None:  # type: ignore[no-untyped-def]
    cc_config(cli)
    patients = cli("template", "add", "cc", "/patients/odata", "--incremental", "lastUpdatedOn")
    assert patients.exit_code == 2
    assert "patients has no modification timestamp" in patients.stderr
    assert "studies.lastUpdatedOn" in patients.stderr and "Traceback" not in patients.stderr
    other = cli("template", "add", "cc", "/studies/odata", "--incremental", "createdOn")
    assert other.exit_code == 2 and "'lastUpdatedOn', not 'createdOn'" in other.stderr
    nullable = cli("template", "add", "cc", "/studies/odata", "--incremental", "lastUpdatedOn")
    assert nullable.exit_code == 2 and "--include-nulls" in nullable.stderr
    ordered = cli(
        "template", "add", "cc", "/studies/odata", "--incremental", "lastUpdatedOn",
        "--include-nulls", "--orderby", "name",
    )  # fmt: skip
    assert ordered.exit_code == 2 and "drop --orderby" in ordered.stderr
    skip = cli(
        "template", "add", "cc", "/studies/odata", "--incremental", "lastUpdatedOn",
        "--include-nulls", "--paging", "skip",
    )  # fmt: skip
    assert skip.exit_code == 2 and "keyset" in skip.stderr
    selected = cli(
        "template", "add", "cc", "/studies/odata", "--incremental", "lastUpdatedOn",
        "--include-nulls", "--select", "id,name",
    )  # fmt: skip
    assert selected.exit_code == 2 and "--select must include lastUpdatedOn" in selected.stderr
    alone = cli("template", "add", "cc", "/studies/odata", "--lookback", "5m")
    assert alone.exit_code == 2 and "go with --incremental" in alone.stderr
    added = cli(
        "template", "add", "cc", "/studies/odata", "--incremental", "lastUpdatedOn",
        "--include-nulls", "--json",
    )  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["incremental"] == {
        "field": "lastUpdatedOn",
        "edm": "Edm.DateTimeOffset",
        "lookback_s": 300.0,
        "include_nulls": True,
    }


def test_odata4_reads_types_and_nullability_from_metadata(service, cli) -> None:  # type: ignore[no-untyped-def]
    text = cli("template", "add", "acc", "/Customers", "--incremental", "CompanyName")
    assert text.exit_code == 2 and "is Edm.String" in text.stderr
    since = cli("template", "add", "acc", "/Customers", "--incremental", "Since")
    assert since.exit_code == 2 and "may be null" in since.stderr
    missing = cli("template", "add", "acc", "/Orders", "--incremental", "Modified")
    assert missing.exit_code == 2 and "LastModified" in missing.stderr  # the ones there are
    lookback = cli("template", "add", "acc", "/OrderLines", "--incremental", "Quantity",
                   "--lookback", "5m")  # fmt: skip
    assert lookback.exit_code == 2 and "integer" in lookback.stderr
    added = cli("template", "add", "acc", "/Orders", "--incremental", "LastModified",
                "--lookback", "0", "--name", "orders")  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert "incremental by LastModified, lookback 0s" in added.stdout

    shown = json.loads(cli("template", "show", "orders", "--json").stdout)
    assert shown["mode"] == "full (no watermark yet)" and shown["next_sync_asks"] == "everything"
    first = cli("sync", "-t", "orders", "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["landed"] == 830
    changed = httpx.post(
        f"{service.running.base_url}/__sim/change",
        json={"resource": "Orders", "update": 12},
    ).json()
    shown = json.loads(cli("template", "show", "orders", "--json").stdout)
    w = shown["watermark"]["w"]
    assert len(w.split(".")[1]) == 8  # seven digits and the Z, as the server sent it
    start = w.split(".")[0] + "Z"  # w - lookback (0) rounded down to the second
    assert shown["next_sync_asks"] == f"LastModified ge {start}"
    again = cli("sync", "-t", "orders")
    assert again.exit_code == 0, again.stderr
    assert "12 changed" in again.stdout and f"incremental: asked for LastModified ge {start}" in (
        again.stdout
    )
    runs = json.loads(cli("runs", "--json").stdout)
    assert [r["sync_mode"] for r in runs[:2]] == ["incremental", "full"]
    stats = httpx.get(f"{service.running.base_url}/__sim/stats").json()
    assert stats["changes"][-1]["updated"] == changed["updated"]  # what changed when
    assert SIM_KEY not in again.stdout

    gone = httpx.post(
        f"{service.running.base_url}/__sim/change", json={"resource": "Orders", "delete": 4}
    ).json()["deleted"]
    refresh = cli("sync", "-t", "orders", "--full-refresh", "--detect-deletes", "--json")
    assert refresh.exit_code == 0, refresh.stderr
    assert json.loads(refresh.stdout)["deleted"] == len(gone) == 4
    twice = cli("sync", "-t", "orders", "--full-refresh", "--detect-deletes").stdout
    assert "0 marked deleted" in twice  # already marked: nothing new
    refused = cli("sync", "-t", "orders", "--detect-deletes")
    assert refused.exit_code == 2 and "--full-refresh" in refused.stderr


def test_the_server_time_zone_is_checked_and_kept(cli) -> None:  # type: ignore[no-untyped-def]
    cc_config(cli)
    wrong = cli("config", "edit", "cc", "--server-timezone", "Mars/Olympus")
    assert wrong.exit_code == 2 and "is no time zone" in wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    for zone in ("-05:00", "UTC"):
        assert cli("config", "edit", "cc", "--server-timezone", zone).exit_code == 0
    shown = json.loads(cli("config", "show", "cc", "--json").stdout)
    assert shown["server_timezone"] == "UTC"
