"""The path grammar, the fingerprint (an HMAC, not a hash) and the SQL twin's agreement."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from sqlalchemy import text

from cc_console.redaction import (
    MARK,
    PathError,
    Policy,
    Redactor,
    canonical,
    fingerprint,
    parse_path,
)
from cc_console.store.database import Database
from cc_console.store.redaction import install_key, sql_fingerprint, sql_redact_body

KEY = b"fake-redaction-key-for-tests-0123456789abcdef"
OTHER_KEY = b"another-fake-redaction-key"


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        pytest.param("$.lastName", [("k", "lastName")], id="member"),
        pytest.param("$.address.city", [("k", "address"), ("k", "city")], id="nested"),
        pytest.param("$.phones[*].number", [("k", "phones"), ("*",), ("k", "number")], id="items"),
        pytest.param("$..dateOfBirth", [("..", "dateOfBirth")], id="descendant"),
        pytest.param("$..patient.firstName", [("..", "patient"), ("k", "firstName")], id="mixed"),
    ],
)
def test_the_grammar(path: str, steps: list[tuple[str, ...]]) -> None:
    assert parse_path(path) == steps


@pytest.mark.parametrize(
    "path",
    ["lastName", "$", "$.", "$.a[0]", "$['a']", "$.a b", "$.*", "$...a", "$.a-b", "$.1a"],
)
def test_anything_else_is_refused_in_one_line(path: str) -> None:
    with pytest.raises(PathError) as refused:
        parse_path(path)
    assert "\n" not in str(refused.value) and repr(path) in str(refused.value)


def test_the_fingerprint_is_an_hmac_of_the_canonical_value() -> None:
    mark = fingerprint(KEY, "1980-05-01")
    expected = hmac.new(KEY, b"s10:1980-05-01", hashlib.sha256).hexdigest()[:16]
    assert mark == f"‹redacted:hmac:{expected}›" and MARK.fullmatch(mark)
    assert expected != hashlib.sha256(b"s10:1980-05-01").hexdigest()[:16]  # no plain hash
    assert fingerprint(KEY, "1980-05-01") == mark  # equal values stay comparable
    assert fingerprint(OTHER_KEY, "1980-05-01") != mark  # another key, another fingerprint
    assert fingerprint(KEY, "1980-05-02") != mark
    assert fingerprint(KEY, 1) != fingerprint(KEY, "1") != fingerprint(KEY, True)
    assert canonical({"b": [1, 2.5], "a": None}) == canonical({"a": None, "b": [1, 2.5]})
    assert canonical(1.0) == canonical(1) == b"n1;"


def test_paths_redact_records_of_every_envelope() -> None:
    redactor = Redactor(KEY, {("c", "/patients"): Policy(("$..dateOfBirth", "$.lastName"))})
    record = {"id": 7, "lastName": "Doe", "dateOfBirth": "1980-05-01",
              "contacts": [{"dateOfBirth": "2001-01-01", "name": "kin"}]}  # fmt: skip
    for body in ({"value": [record]}, {"Items": [record], "count": 1}, [record], record):
        shown = redactor.body("c", "/patients", body)
        text_shown = json.dumps(shown, ensure_ascii=False)
        assert "Doe" not in text_shown and "1980" not in text_shown and "2001" not in text_shown
        assert "kin" in text_shown and '"id": 7' in text_shown
    assert redactor.body("c", "/studies", {"value": [record]}) == {"value": [record]}
    once = redactor.body("c", "/patients", record)
    assert redactor.body("c", "/patients", once) == once  # a fingerprint is not fingerprinted


def test_filter_literals_and_search_are_fingerprinted() -> None:
    redactor = Redactor(KEY, {("c", "/patients"): Policy(("$.lastName",))})
    params = {"$filter": "lastName eq 'O''Brien' and status eq 'Active'", "$top": 5,
              "$search": "Brien"}  # fmt: skip
    shown = redactor.query_params("c", "/patients", params)
    assert "Brien" not in json.dumps(shown) and "Active" not in json.dumps(shown)
    assert "lastName eq '" + fingerprint(KEY, "O'Brien") + "'" in shown["$filter"]
    assert shown["$top"] == 5


CASES: list[Any] = [
    "Doe", "", "Zoë ☃ \"quoted\" \\ \n", 0, -0.0, 1, 1.0, 1.5, 0.1, -12.25, 1e20, 1e-7,
    12345678901234567890, True, False, None, [], {}, [1, "a", None],
    {"b": 1, "a": {"é": [True, 2.5]}, "aa": "x", "B": None},
]  # fmt: skip


def test_sql_fingerprints_equal_python_fingerprints(database: Database) -> None:
    with database.engine.begin() as conn:
        install_key(conn, KEY, "tester")
        for value in CASES:
            assert sql_fingerprint(conn, value) == fingerprint(KEY, value), value
        install_key(conn, OTHER_KEY, "tester")
        assert sql_fingerprint(conn, "Doe") == fingerprint(OTHER_KEY, "Doe")


def test_sql_redaction_equals_python_redaction(database: Database) -> None:
    policy = Policy(("$..dateOfBirth", "$.lastName", "$.phones[*].number", "$.address.city"))
    redactor = Redactor(KEY, {("c", "r"): policy})
    record = {"id": 1, "lastName": "Doe", "firstName": "Jane", "dateOfBirth": "1980-05-01",
              "phones": [{"number": "555-0101", "kind": "home"}, {"kind": "none"}],
              "address": {"city": "Springfield", "zip": "12345"}, "notes": None,
              "patient": {"dateOfBirth": {"y": 1980}}}  # fmt: skip
    with database.engine.begin() as conn:
        install_key(conn, KEY, "tester")
        for body in (
            {"value": [record, record], "@odata.count": 2},
            {"items": [record], "Items": [], "count": 1},
            [record],
            record,
            [],
            {},
        ):
            assert sql_redact_body(conn, body, policy) == redactor.body("c", "r", body)
        assert (
            conn.execute(
                text("SELECT cc_redaction.filter_text(:f)"), {"f": "a eq 'x''y' or b eq 'z'"}
            ).scalar_one()
            == redactor.query_params("c", "r", {"$filter": "a eq 'x''y' or b eq 'z'"})["$filter"]
        )
