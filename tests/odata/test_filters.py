"""The $filter structure check: what OData allows passes, what it cannot accept is refused
with its position, an unknown function is only a warning, and no input crashes it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cc_console.odata import FilterSyntaxError, check_filter

VALID = [
    "status eq '07. Enrollment'",
    "name eq 'O''Brien (x' and (id gt 3)",
    "id gt 5 and not (name eq null)",
    "not startswith(name, 'A')",
    "contains(tolower(name), 'smith') or endswith(email, '.invalid')",
    "createdOn ge 2025-01-01T00:00:00Z and createdOn lt 2025-02-01T00:00:00.1234567+01:00",
    "dateOfBirth lt 2000-01-01",
    "study/id eq 42",
    "uid eq 0f8fad5b-d9cb-469f-a165-70867728950e",
    "Price add 5 gt 10 and Price mul 2 le -3.5e2",
    "Quantity mod 2 eq 0 or Quantity divby 3 lt 1.5M",
    "id in (1, 2, 3)",
    "status in ('a', 'b') and year(createdOn) eq 2024",
    "Items/any(i: i/Quantity gt 1 and i/Product/Name ne 'x')",
    "Items/all(i: i/Done)",
    "Items/any()",
    "Color has Sales.Color'Red'",
    "duration'P1D' gt Age",
    "isof(Sales.PriorityOrder)",
    "cast(Amount, Edm.Int64) gt 5",
    "geo.distance(Location, geography'SRID=0;Point(1 2)') lt 5",
    "active eq true and deleted eq false",
    "Name EQ 'x' AND Id GT 3",  # 4.01: operators are case-insensitive
    "$it/Name eq 'x'",
    "Name eq @p1",
]


@pytest.mark.parametrize("expression", VALID)
def test_what_odata_allows_passes_without_warnings(expression: str) -> None:
    assert check_filter(expression) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("status eq", "'eq' at position 8 needs an operand", id="no-right-operand"),
        pytest.param(
            "eq 5", "expected a value, a property or a function at position 1", id="no-left"
        ),
        pytest.param(
            "name equals 'x'", "expected an operator .* at position 6, found 'equals'", id="word"
        ),
        pytest.param("name eq 'abc", "unterminated string literal at position 9", id="open-quote"),
        pytest.param(
            "(a eq 1",
            r"expected '\)' at position 8 \(the '\(' at position 1 is unclosed\)",
            id="open-paren",
        ),
        pytest.param("a eq 1)", r"unbalanced '\)' at position 7", id="close-paren"),
        pytest.param("a eq 1 and", "'and' at position 8 needs an operand", id="dangling-and"),
        pytest.param("a eq 1 or or b eq 2", "'or' at position 8 needs an operand", id="double-or"),
        pytest.param("id in ()", "the list after 'in' at position 4 is empty", id="empty-in"),
        pytest.param("id in (1, 2", r"the list of 'in' at position 4 is unclosed", id="open-in"),
        pytest.param("id in 5", "'in' at position 4 takes a list", id="in-scalar"),
        pytest.param("id in (1,)", "',' at position 9 needs an operand", id="in-trailing-comma"),
        pytest.param(
            "Items/any(i i/Q gt 1)",
            "expected ':' at position 13 after the lambda variable",
            id="lambda-colon",
        ),
        pytest.param("Items/any(i:)", "needs a condition after ':'", id="lambda-empty"),
        pytest.param("Items/ eq 1", "'/' at position 6 needs a property name", id="slash"),
        pytest.param(
            "contains(name, 'x'",
            r"expected '\)' at position 19 to close contains\(",
            id="open-call",
        ),
        pytest.param("()", "empty parentheses at position 1", id="empty-parens"),
        pytest.param("(1, 2) eq id", "only allowed after 'in'", id="list-outside-in"),
        pytest.param("name eq 'x' # y", "unexpected '#' at position 13", id="stray-char"),
        pytest.param("   ", "the filter is empty", id="empty"),
        pytest.param("(" * 150 + "a" + ")" * 150, "more than 50 levels", id="too-deep"),
    ],
)
def test_what_cannot_be_odata_is_refused_with_its_position(expression: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message):
        check_filter(expression)


def test_an_unknown_function_is_a_warning_not_a_refusal() -> None:
    warnings = check_filter("vendorfn(name) eq 1 and contains(name, 'x')")
    assert warnings == [
        "unknown function 'vendorfn' at position 1 (kept: the service may define it)"
    ]


FILTER_CHARS = st.sampled_from(
    list("abc019 ()'/,:-.$@#eqandorintgl") + [" eq ", " and ", " in ", "any(", "'", "''"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(FILTER_CHARS, max_size=40).map("".join) | st.text(max_size=60))
def test_no_input_raises_anything_but_its_own_error(expression: str) -> None:
    try:
        result = check_filter(expression)
    except FilterSyntaxError as exc:
        assert "position" in str(exc) or "empty" in str(exc) or "levels" in str(exc)
    else:
        assert isinstance(result, list)


@pytest.mark.parametrize("prefix", ["(", "not ", "- ", "f("])
def test_deep_nesting_of_any_kind_is_refused_not_a_crash(prefix: str) -> None:
    with pytest.raises(FilterSyntaxError, match="levels deep"):
        check_filter(prefix * 500 + "a")
