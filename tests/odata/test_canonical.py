"""Canonical params: the same query in any spelling hashes the same; different ones don't."""

from __future__ import annotations

import pytest

from cc_console.odata import (
    FilterSyntaxError,
    canonical_filter,
    canonical_params,
    canonical_params_json,
    check_filter,
    filter_hash,
    params_hash,
)

BASE = {"$filter": "status eq 'Active' and siteId eq 3", "$top": 100, "$orderby": "id asc"}


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(
            {"$orderby": "id asc", "$top": 100, "$filter": BASE["$filter"]}, id="key-order"
        ),
        pytest.param(
            {"$FILTER": BASE["$filter"], "$Top": "100", "$OrderBy": "id asc"}, id="option-case"
        ),
        pytest.param({"filter": BASE["$filter"], "top": 100, "orderby": "id asc"}, id="no-dollar"),
        pytest.param(
            {
                "$filter": "  status   eq 'Active'\n and  siteId eq 3 ",
                "$top": 100,
                "$orderby": " id  asc ",
            },
            id="whitespace",
        ),
        pytest.param({**BASE, "$select": None, "$expand": ""}, id="empty-options-dropped"),
    ],
)
def test_equivalent_spellings_hash_the_same(variant: dict[str, object]) -> None:
    assert params_hash(variant) == params_hash(BASE)
    assert filter_hash(variant) == filter_hash(BASE)
    assert canonical_params_json(variant) == canonical_params_json(BASE)


def test_whitespace_inside_a_literal_is_data() -> None:
    a = {"$filter": "name eq 'A  B'"}
    b = {"$filter": "name eq 'A B'"}
    assert params_hash(a) != params_hash(b)
    assert canonical_filter("name  eq 'O''Brien  x'  ") == "name eq 'O''Brien  x'"


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({**BASE, "$top": 50}, id="top"),
        pytest.param({**BASE, "$filter": "status eq 'active' and siteId eq 3"}, id="literal-case"),
        pytest.param({**BASE, "$select": "id,name"}, id="select-added"),
    ],
)
def test_different_queries_hash_differently(other: dict[str, object]) -> None:
    assert params_hash(other) != params_hash(BASE)


def test_filter_hash_ignores_everything_but_the_filter() -> None:
    assert filter_hash({**BASE, "$top": 5, "$select": "id"}) == filter_hash(BASE)
    assert filter_hash(BASE) == filter_hash(BASE["$filter"])
    assert filter_hash({}) == filter_hash(None) == filter_hash("")
    assert filter_hash({}) != filter_hash(BASE)


def test_hash_is_sha256_hex_and_stable() -> None:
    value = params_hash({"$top": 1})
    assert len(value) == 64 and int(value, 16) >= 0
    # pinned: a change of canonical form silently splits every cursor, so it must be deliberate
    assert canonical_params_json({"$Top": "1", "filter": " a  eq 1 "}) == (
        '{"$filter":"a eq 1","$top":1}'
    )


def test_conflicting_duplicates_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\$top is given twice"):
        canonical_params({"$top": 1, "top": 2})


def test_list_options_normalise_spacing() -> None:
    assert canonical_params({"$select": " id , name,  status "}) == {"$select": "id,name,status"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("name eq 'abc", "unterminated", id="open-quote"),
        pytest.param("(a eq 1", "unclosed", id="open-paren"),
        pytest.param("a eq 1)", "unbalanced", id="close-paren"),
    ],
)
def test_check_filter_refuses_broken_syntax(expression: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message):
        check_filter(expression)


def test_check_filter_accepts_doubled_quotes_and_parens_in_literals() -> None:
    expression = "name eq 'O''Brien (x' and (id gt 3)"
    assert check_filter(expression) == []
