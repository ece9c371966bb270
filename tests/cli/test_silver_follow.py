"""`template add --views --history`: after each successful `sync` the resource's typed views
are there and follow it, and a second sync over changed rows keeps the replaced versions."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.engine import test_odata4_sync

service = test_odata4_sync.service  # an OData v4 simulator with config "acc" (a fixture)


def test_views_follow_syncs_of_a_views_template(cli, service, db_url) -> None:  # type: ignore[no-untyped-def]
    plain = cli("template", "add", "acc", "/Customers", "--name", "customers")
    assert plain.exit_code == 0, plain.stderr
    added = cli("template", "add", "acc", "/Orders", "--views", "--history", "--name", "orders")
    assert added.exit_code == 0 and "keeps history, refreshes its views" in added.stdout
    assert cli("sync", "-t", "customers").exit_code == 0
    first = cli("sync", "-t", "orders", "--json")
    assert first.exit_code == 0, first.stderr
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as conn:
        views = set(conn.execute(text(
            "SELECT table_name FROM information_schema.views WHERE table_schema = 'silver'"
        )).scalars())  # fmt: skip
        assert views == {"acc__orders", "acc__orders__all", "acc__orders__history"}
        landed = conn.execute(text("SELECT count(*) FROM silver.acc__orders")).scalar()
        assert landed == json.loads(first.stdout)["landed"]
    httpx.post(f"{service.running.base_url}/__sim/change", json={"resource": "Orders",
                                                                  "ids": [10250, 10251]})  # fmt: skip
    again = cli("sync", "-t", "orders", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["updated"] == 2
    with engine.connect() as conn:
        kept = conn.execute(text(
            "SELECT order_id, _replaced_by_run_id FROM silver.acc__orders__history"
            " ORDER BY order_id")).all()  # fmt: skip
    engine.dispose()
    assert [(o, str(r)) for o, r in kept] == [
        (10250, json.loads(again.stdout)["run_id"]),
        (10251, json.loads(again.stdout)["run_id"]),
    ]
