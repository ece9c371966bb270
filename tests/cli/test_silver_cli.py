"""`silver views`, `silver export` and `db grant-reader` end to end, on seeded Silver rows."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from cc_console.redaction import fingerprint
from cc_console.settings import Settings
from cc_console.store.database import open_database
from tests.store.silver_seed import land, odata_service

ORDERS = [
    {"OrderID": 1, "CustomerID": "ALFKI", "OrderDate": "2024-06-15T02:00:00Z", "Freight": 12.5,
     "ShipCountry": "Germany, West", "Shipped": True, "LastModified": "2024-06-15T02:00:00Z"},
    {"OrderID": 2, "CustomerID": "BONAP", "OrderDate": "2024-06-16T08:30:00", "Freight": "abc",
     "ShipCountry": "", "Shipped": False, "LastModified": "2024-06-16T08:30:00Z"},
    {"OrderID": 3, "CustomerID": "O\"Neill", "OrderDate": "2024-06-17T00:00:00Z",
     "Freight": 3, "ShipCountry": None, "Shipped": False, "LastModified": "2024-06-17T00:00:00Z"},
]  # fmt: skip


@pytest.fixture
def seeded(cli: Any, db_url: str) -> Any:
    database = open_database(Settings(database_url=db_url), migrate=False)
    config_id = odata_service(database.engine)
    land(database.engine, config_id, "/Orders", ORDERS, "OrderID")
    yield database
    database.dispose()


def test_views_report_actions_and_non_castable_counts(cli: Any, seeded: Any) -> None:
    result = cli("silver", "views", "--json")
    assert result.exit_code == 0, result.stderr
    views = {v["view"]: v for v in json.loads(result.stdout)["views"]}
    orders = views["silver.acc__orders"]
    assert orders["action"] == "created" and orders["rows"] == 3
    assert orders["all_view"] == "silver.acc__orders__all"
    assert orders["non_castable"] == 1
    freight = next(c for c in orders["columns"] if c["name"] == "freight")
    assert freight == {"name": "freight", "type": "numeric", "property": "Freight",
                       "non_castable": 1}  # fmt: skip
    human = cli("silver", "views", "--config", "acc")
    assert human.exit_code == 0, human.stderr
    assert "silver.acc__orders " in human.stdout and "unchanged" in human.stdout
    assert "freight" in human.stdout.split("non-castable (NULL)", 1)[1]
    missing = cli("silver", "views", "--config", "nope")
    assert missing.exit_code == 3 and missing.stderr.count("\n") == 1
    bad = cli("silver", "views", "--schema", "public")
    assert bad.exit_code == 2 and "schema of their own" in bad.stderr


def view_rows(seeded: Any, view: str = "acc__orders") -> list[dict[str, Any]]:
    with seeded.engine.connect() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'silver'"
            " AND table_name = :v ORDER BY ordinal_position"), {"v": view})]  # fmt: skip
        # each value's output text (a boolean is t/f), as COPY writes it
        select = ", ".join(f'CASE WHEN "{n}" IS NOT NULL THEN format(\'%s\', "{n}") END AS "{n}"'
                           for n in names)  # fmt: skip
        return [
            dict(r) for r in conn.execute(text(f"SELECT {select} FROM silver.{view}")).mappings()
        ]


def by_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: int(r["order_id"]))


def test_export_equals_the_views_rows(cli: Any, seeded: Any, tmp_path: Path) -> None:
    assert cli("silver", "views").exit_code == 0
    out = tmp_path / "orders.csv"
    result = cli("silver", "export", "acc", "Orders", "--to", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"exported 3 rows of silver.acc__orders to {out}" in result.stderr
    raw = out.read_text()
    parsed = list(csv.DictReader(io.StringIO(raw)))
    expected = view_rows(seeded)
    nulls = {(int(r["order_id"]), k) for r in expected for k, v in r.items() if v is None}
    assert by_key([{k: (None if (int(r["order_id"]), k) in nulls else v) for k, v in r.items()}
                   for r in parsed]) == by_key(expected)  # fmt: skip
    assert ',"",' in raw and '"Germany, West"' in raw and '"O""Neill"' in raw  # COPY's quoting
    jsonl = cli("silver", "export", "acc", "/Orders", "--format", "jsonl", "--to", "-")
    assert jsonl.exit_code == 0, jsonl.stderr
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert len(lines) == 3 and list(lines[0])[:2] == ["order_id", "_landed_at"]
    first = next(line for line in lines if line["order_id"] == 1)
    assert first["freight"] == 12.5 and first["shipped"] is True
    assert first["order_date"] == "2024-06-15T02:00:00+00:00"
    assert next(line for line in lines if line["order_id"] == 2)["freight"] is None


@pytest.mark.parametrize(
    ("where", "keys"),
    [
        pytest.param("customer_id:ALFKI", [1], id="equal"),
        pytest.param("customer_id:ALFKI customer_id:BONAP", [1, 2], id="equal-or"),
        pytest.param("!customer_id:ALFKI", [2, 3], id="negated"),
        pytest.param("freight:>5", [1], id="compare"),
        pytest.param("freight:null", [2], id="null"),
        pytest.param("customer_id:B*", [2], id="wildcard"),
        pytest.param("order_date:<2024-06-16 shipped:true", [1], id="and"),
        pytest.param('customer_id:O"*', [3], id="quote-wildcard"),
        pytest.param("until:1s", [1, 2, 3], id="until"),  # landed on the fixed clock, long ago
        pytest.param("since:1h", [], id="since"),
    ],
)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_where(cli: Any, seeded: Any, where: str, keys: list[int], fmt: str) -> None:
    assert cli("silver", "views").exit_code == 0
    result = cli("silver", "export", "acc", "orders", "--format", fmt, "--where", where,
                 "--to", "-")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    if fmt == "csv":  # COPY, the filter's values merged in as literals
        got = [int(r["order_id"]) for r in csv.DictReader(io.StringIO(result.stdout))]
    else:
        got = [json.loads(line)["order_id"] for line in result.stdout.splitlines()]
    assert sorted(got) == keys


@pytest.mark.parametrize(
    ("where", "says"),
    [
        pytest.param("colour:red", "no column 'colour'", id="unknown-column"),
        pytest.param("order_id:abc", "invalid input syntax", id="bad-value"),
        pytest.param("ALFKI", "a bare word", id="bare-word"),
        pytest.param("order_id:1;DROP", "invalid input syntax", id="no-sql"),
    ],
)
def test_export_refuses_a_bad_filter_in_one_line(
    cli: Any, seeded: Any, where: str, says: str
) -> None:
    assert cli("silver", "views").exit_code == 0
    result = cli("silver", "export", "acc", "orders", "--where", where, "--to", "-")
    assert result.exit_code == 2 and says in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_export_goes_to_the_data_dirs_exports_by_default(
    cli: Any, seeded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path / "data"))
    assert cli("silver", "views").exit_code == 0
    result = cli("silver", "export", "acc", "orders", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    path = Path(result.stderr.rsplit(" to ", 1)[1].strip())
    assert path.parent == tmp_path / "data" / "exports" and path.suffix == ".jsonl"
    assert len(path.read_text().splitlines()) == 3
    unknown = cli("silver", "export", "acc", "Invoices")
    assert unknown.exit_code == 2 and "no resource 'Invoices'" in unknown.stderr


def test_the_reader_role_reads_the_views_and_nothing_else(
    cli: Any, seeded: Any, db_url: str
) -> None:
    role = f"cc_reader_{uuid.uuid4().hex[:8]}"
    assert cli("silver", "views").exit_code == 0
    try:
        granted = cli("db", "grant-reader", role, "--json")
        assert granted.exit_code == 0, granted.stderr
        assert json.loads(granted.stdout)["created"] is True
        reader = create_engine(db_url.replace("postgres@", f"{role}@"), poolclass=NullPool)
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM silver.acc__orders")).scalar() == 3
        for table in ("cc_api_response_log", "cc_api_client_config", "cc_silver_record"):
            with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission"):
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
        # a view created later is granted by default privileges; a retyped one keeps its grant
        land(seeded.engine, next(iter(_config_ids(seeded))), "/Customers",
             [{"CustomerID": "A"}], "CustomerID")  # fmt: skip
        assert cli("silver", "views").exit_code == 0
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM silver.acc__customers")).scalar() == 1
        reader.dispose()
        again = cli("db", "grant-reader", role)
        assert again.exit_code == 0 and "role " + role in again.stdout
        assert cli("db", "grant-reader", "postgres").exit_code == 2
    finally:
        with seeded.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))


def _config_ids(seeded: Any) -> list[uuid.UUID]:
    with seeded.engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM cc_api_client_config")).scalars())


@pytest.mark.parametrize(
    "args",
    [["silver"], ["silver", "views"], ["silver", "export"], ["db", "grant-reader"]],
    ids="-".join,
)
def test_every_silver_command_has_help(cli: Any, args: list[str]) -> None:
    result = cli(*args, "--help")
    assert result.exit_code == 0 and "Usage" in result.stdout


def test_views_with_nothing_to_show_say_so(cli: Any) -> None:
    result = cli("silver", "views")
    assert result.exit_code == 0 and "no resources yet" in result.stdout


def test_export_refusals(cli: Any, seeded: Any, tmp_path: Path) -> None:
    before = cli("silver", "export", "acc", "orders")
    assert before.exit_code == 2 and "cc-console silver views" in before.stderr
    assert cli("silver", "views").exit_code == 0
    assert cli("silver", "export", "acc", "orders", "--format", "xml").exit_code == 2
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = cli("silver", "export", "acc", "orders", "--to", str(blocked / "out.csv"))
    assert result.exit_code == 2 and "cannot write" in result.stderr
    assert not list(tmp_path.glob("**/*.part"))


def test_a_blocked_retype_exits_1_and_names_the_dependents(cli: Any, seeded: Any) -> None:
    assert cli("silver", "views").exit_code == 0
    with seeded.engine.begin() as conn:
        conn.execute(text("CREATE VIEW public.freight_report AS SELECT freight FROM"
                          " silver.acc__orders"))  # fmt: skip
        conn.execute(text(
            "UPDATE cc_odata_query_template SET record_schema = jsonb_set(record_schema,"
            " '{properties,Freight}', '\"Edm.String\"') WHERE resource_path = '/Orders'"))  # fmt: skip
    result = cli("silver", "views")
    assert result.exit_code == 1 and "freight_report" in result.stderr
    assert "blocked" in result.stdout


def test_export_history(cli: Any, seeded: Any) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(text("UPDATE cc_odata_query_template SET keep_history = true"
                          " WHERE resource_path = '/Orders'"))  # fmt: skip
        conn.execute(text("UPDATE cc_silver_record SET payload = payload || '{\"Freight\": 99}',"
                          " payload_hash = repeat('c', 64) WHERE record_key = '1'"))  # fmt: skip
    assert cli("silver", "views").exit_code == 0
    result = cli("silver", "export", "acc", "orders", "--history", "--format", "jsonl", "--to", "-")
    assert result.exit_code == 0, result.stderr
    (line,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert line["order_id"] == 1 and line["freight"] == 12.5 and "_valid_to" in line
    both = cli("silver", "export", "acc", "orders", "--history", "--deleted")
    assert both.exit_code == 2


def test_export_redacts_values_as_landed_in_every_view(cli: Any, seeded: Any,
                                                       monkeypatch: Any) -> None:  # fmt: skip
    """A date-time typed by the view fingerprints as its landed text, the bodies' fingerprint;
    so do the live, the all (--deleted) and the history views."""
    key = "fake-silver-export-redaction-key-0000000"
    monkeypatch.setenv("CC_REDACTION_KEY_REF", "env:CC_TEST_EXPORT_REDACTION_KEY")
    monkeypatch.setenv("CC_TEST_EXPORT_REDACTION_KEY", key)
    with seeded.engine.begin() as conn:
        conn.execute(text("UPDATE cc_odata_query_template SET keep_history = true"
                          " WHERE resource_path = '/Orders'"))  # fmt: skip
        conn.execute(text("UPDATE cc_silver_record SET payload = payload || '{\"Freight\": 99}',"
                          " payload_hash = repeat('c', 64) WHERE record_key = '1'"))  # fmt: skip
    assert (
        cli("audit", "redact", "set", "acc", "/Orders", "$.OrderDate", "$..CustomerID").exit_code
        == 0
    )
    assert cli("silver", "views").exit_code == 0
    marks = {o["OrderID"]: fingerprint(key.encode(), o["OrderDate"]) for o in ORDERS}
    for flag in ([], ["--deleted"], ["--history"]):
        result = cli("silver", "export", "acc", "orders", *flag, "--format", "jsonl", "--to", "-")
        assert result.exit_code == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows and all(r["order_date"] == marks[r["order_id"]] for r in rows), flag
        assert all(r["customer_id"].startswith("‹redacted:hmac:") for r in rows), flag
        assert "_cc_payload" not in rows[0], flag
        assert not [o for o in ORDERS if f'"{o["OrderDate"]}"' in result.stdout], flag
