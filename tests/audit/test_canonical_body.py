"""A page's body digested by the engine as canonical JSON (migration 0020): it must read back
the same from JSONB, or the engine leaves the digest to PostgreSQL — and an edit inside a
record is still named."""

from __future__ import annotations

import json
from dataclasses import replace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from cc_console.client.seal_key import load_seal_key
from cc_console.settings import load_settings
from cc_console.store.audit_log import ResponseFields, insert_response
from cc_console.store.audit_seal import seal_chain
from cc_console.store.canonical_body import (
    canonical_body_digest,
    canonical_json,
    stored_body_digest,
)
from cc_console.store.database import Database
from tests.audit.test_sealing import _config_and_run, _proved, _request

# -- raw JSON text as servers write it: exponents, trailing zeros, -0, escapes, repeated keys --
_digits = st.integers(0, 10**22).map(str)
_numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.tuples(st.sampled_from(["", "-"]), _digits, _digits).map(lambda t: f"{t[0]}{t[1]}.{t[2]}"),
    st.tuples(
        st.sampled_from(["", "-"]),
        _digits,
        st.sampled_from(["", ".0", ".5", ".25", ".000"]),
        st.sampled_from(["e", "E"]),
        st.sampled_from(["", "+", "-"]),
        st.integers(0, 320),
    ).map(lambda t: f"{t[0]}{t[1]}{t[2]}{t[3]}{t[4]}{t[5]}"),
    st.sampled_from(["-0", "-0.0", "0.000", "-0e5", "1e16", "1.5e1", "9007199254740993"]),
)
_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
_strings = st.one_of(
    st.sampled_from(['"a:15.0,b"', '"[2.0]"', '",-0.0}"', '"1e16"']),  # number-like text
    _text.map(lambda s: orjson.dumps(s).decode()),
    _text.map(lambda s: json.dumps(s, ensure_ascii=True)),  # \u escapes, as many servers send
)
_space = st.sampled_from(["", " ", "\n  "])
_scalars = st.one_of(_numbers, _strings, st.sampled_from(["true", "false", "null"]))


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keys = st.one_of(st.sampled_from(['"id"', '"a"', '"Name"', '"aa"', '"ä"']), _strings)
    arrays = st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    objects = st.tuples(st.lists(st.tuples(keys, children), max_size=5), _space).map(
        lambda t: "{" + ",".join(f"{t[1]}{k}:{t[1]}{v}" for k, v in t[0]) + "}"
    )
    return st.one_of(arrays, objects)


_bodies = st.recursive(_scalars, _containers, max_leaves=25).filter(
    lambda raw: raw.startswith(("{", "["))
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_bodies)
def test_a_body_digested_by_the_engine_reads_back_the_same_from_jsonb(
    database: Database, raw: str
) -> None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return  # the engine could not decode it either: no page, nothing digested
    digest = canonical_body_digest(data)
    if digest is None:
        return  # left to PostgreSQL (a whole-number float): proved by the whole-text form
    with database.engine.connect() as conn:
        stored = conn.execute(text("SELECT CAST(:raw AS jsonb)::text"), {"raw": raw}).scalar_one()
    assert stored_body_digest(stored) == digest, (raw, stored)


@pytest.mark.parametrize(
    "raw", ['{"v": [1.5e1, -15.0, 1E2]}', '{"v": -0.0}', '{"v": 2.0, "w": 0e3}', '[{"a": [7.0]}]']
)
def test_a_whole_number_float_is_digested_by_its_value(database: Database, raw: str) -> None:
    """JSONB keeps 1.5e1 as 15 and -0.0 as 0.0: decoded again they are an int, or a float of
    another sign, so the canonical JSON writes whole floats as integers — on both sides."""
    data = orjson.loads(raw)
    with database.engine.connect() as conn:
        stored = conn.execute(text("SELECT CAST(:raw AS jsonb)::text"), {"raw": raw}).scalar_one()
    assert orjson.dumps(orjson.loads(stored)) != orjson.dumps(data) or raw.startswith("[")
    assert canonical_body_digest(data) == stored_body_digest(stored) is not None


def test_whole_floats_inside_strings_are_left_as_written() -> None:
    assert canonical_json({"v": [15.0], "s": "a:15.0,b"}) == b'{"s":"a:15.0,b","v":[15]}'
    assert canonical_json({"s": "a:15.0,b"}) == b'{"s":"a:15.0,b"}'


@pytest.mark.parametrize(
    "raw", ['{"v": 1e16}', '{"v": 1234567890123456.0}', '{"s": "say \\"hi\\"", "v": 2.0}']
)
def test_what_the_value_cannot_settle_is_left_to_postgresql(raw: str) -> None:
    """1e16 reads back from JSONB as an integer orjson may write as 1e+16 or not; a whole
    float of 16 digits may not be the number JSONB kept; an escaped quote would need a real
    parser to tell strings apart. PostgreSQL digests these bodies from their JSONB text."""
    assert canonical_body_digest(orjson.loads(raw)) is None


def _page(body: bytes) -> ResponseFields:
    return ResponseFields(
        200, {"content-type": "application/json"}, body, "application/json", 3.5, parse_ok=True
    )


async def test_canonical_and_whole_bodies_prove_and_an_edit_inside_a_record_is_named(
    database: Database, aengine
) -> None:  # type: ignore[no-untyped-def]
    config, run = _config_and_run(database, status="succeeded")
    canonical = b'{"value": [{"id": 1, "name": "Monax, Limkai", "born": 1961}], "@odata.count": 2}'
    whole = b'{"value": [{"id": 2, "weight": 1e16}]}'  # digested by PostgreSQL
    rows = []
    for body in (canonical, whole):
        request = await _request(aengine, config, run)
        page = _page(body)
        page = replace(page, body_digest=canonical_body_digest(orjson.loads(body)))
        async with aengine.begin() as conn:
            rows.append(await insert_response(conn, request, page))
    await seal_chain(aengine, run, load_seal_key(load_settings()), sealed_by="run")
    with database.engine.connect() as conn:
        forms = dict(
            conn.execute(text("SELECT id, chain_canonical_body FROM cc_api_response_log")).all()
        )
    assert (forms[rows[0]], forms[rows[1]]) == (True, False)
    report = _proved(database)
    assert report.ok and report.rows_proved == 4, report.findings

    edits = ((rows[0], "{value,0,born}", "1962", "1961"), (rows[1], "{value,0,id}", "3", "2"))
    for row, path, edited, original in edits:
        _set_in_body(database, row, path, edited)
        report = _proved(database)
        assert [(f.kind, f.row_id) for f in report.findings] == [("link", row)]
        _set_in_body(database, row, path, original)  # put back: the next edit is found alone
        assert _proved(database).ok


def _set_in_body(database: Database, row: object, path: str, value: str) -> None:
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cc_api_response_log SET body = jsonb_set(body, CAST(:p AS text[]),"
                " CAST(:v AS jsonb)) WHERE id = :id"
            ),
            {"p": path, "v": value, "id": row},
        )
