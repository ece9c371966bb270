"""Keyset predicates, evaluated by the simulator's own OData filter (no code shared with the
client's): paging by them visits every row once, in order, whatever the ties and nulls."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cc_console.odata.keyset import (
    Position,
    Replication,
    keyset_filter,
    lower_bound,
    ordered,
    position_of,
    replication_orderby,
    value_literal,
)
from cc_console.sim.odata4.query import compile_filter

STAMPS = [f"2024-03-0{d}T10:00:00.{f:07d}Z" for d in (1, 2) for f in (1234567, 1234568, 9999999)]
TYPES = {"F": "Edm.DateTimeOffset", "a": "Edm.Int32", "b": "Edm.String", "n": "Edm.Int64"}


def _sort_key(row: dict[str, Any]) -> tuple[Any, ...]:
    f = row["F"]
    return (f is not None, f or "", row["a"], row["b"])  # the stamps share one format


def _page(rows: list[dict[str, Any]], predicate: str | None, top: int) -> list[dict[str, Any]]:
    """What a server sends: the ordered rows the filter selects, the first ``top``."""
    ordered_rows = sorted(rows, key=_sort_key)
    if predicate is not None:
        test = compile_filter(predicate, TYPES, "T")
        ordered_rows = [r for r in ordered_rows if test(r)]
    return ordered_rows[:top]


rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "F": st.one_of(st.none(), st.sampled_from(STAMPS)),
            "a": st.integers(0, 3),
            "b": st.sampled_from(["x", "O'Neill", "y z", "é"]),
        }
    ),
    max_size=40,
    unique_by=lambda r: (r["a"], r["b"]),
)


@settings(max_examples=150, deadline=None)
@given(rows=rows_strategy, top=st.integers(1, 7), lower_at=st.one_of(st.none(), st.integers(0, 5)))
def test_keyset_paging_visits_every_row_once_in_order(
    rows: list[dict[str, Any]], top: int, lower_at: int | None
) -> None:
    replication = Replication("F", "Edm.DateTimeOffset", 0.0, include_nulls=True)
    key = ("a", "b")
    lower = None if lower_at is None else lower_bound(STAMPS[lower_at], replication)
    position: Position | None = None
    seen: list[dict[str, Any]] = []
    for _ in range(len(rows) + 2):
        page = _page(rows, keyset_filter(replication, key, TYPES, position, lower), top)
        if not page:
            break
        seen += page
        position = position_of(page[-1], replication, key)
    wanted = [
        r
        for r in sorted(rows, key=_sort_key)
        if lower is None or r["F"] is None or compile_filter(f"F ge {lower}", TYPES, "T")(r)
    ]
    assert seen == wanted


def test_the_predicate_keeps_the_servers_literal_and_quotes_keys() -> None:
    replication = Replication("F", "Edm.DateTimeOffset")
    at = Position("2024-03-01T10:00:00.1234567Z", (3, "O'Neill"))
    assert keyset_filter(replication, ("a", "b"), TYPES, at, None) == (
        "(F gt 2024-03-01T10:00:00.1234567Z or (F eq 2024-03-01T10:00:00.1234567Z and"
        " (a gt 3 or (a eq 3 and b gt 'O''Neill'))))"
    )
    assert replication_orderby(replication, ("a", "b")) == "F asc,a asc,b asc"
    assert keyset_filter(replication, ("a",), TYPES, None, None) is None  # from the start


def test_literals_take_the_servers_zone_only_where_it_sent_none() -> None:
    edm = "Edm.DateTimeOffset"
    assert value_literal("2024-03-01T10:00:00", edm) == "2024-03-01T10:00:00Z"
    assert value_literal("2024-03-01T10:00:00-05:00", edm) == "2024-03-01T10:00:00-05:00"
    eastern = timezone(timedelta(hours=-5))
    assert value_literal("2024-03-01T10:00:00.1234567", edm, eastern) == (
        "2024-03-01T10:00:00.1234567-05:00"
    )
    assert value_literal("5c0a5e7e-0000-4000-8000-000000000001", "Edm.Guid").startswith("5c0a")
    assert value_literal(7, "Edm.Int64") == "7" and value_literal("7", "Edm.Int64") == "7"


def test_the_lower_bound_is_w_minus_lookback_rounded_down() -> None:
    stamp = Replication("F", "Edm.DateTimeOffset", 300.0)
    assert lower_bound("2024-03-01T10:00:00.9999999Z", stamp) == "2024-03-01T09:55:00Z"
    assert lower_bound("2024-03-01T10:00:00-05:00", stamp) == "2024-03-01T14:55:00Z"
    naive = lower_bound("2024-03-01T10:00:00", stamp, timezone(timedelta(hours=2)))
    assert naive == "2024-03-01T07:55:00Z"
    assert lower_bound("2024-03-01", Replication("D", "Edm.Date", 300.0)) == "2024-02-29"
    assert lower_bound("2024-03-01", Replication("D", "Edm.Date", 0.0)) == "2024-03-01"
    assert lower_bound(41, Replication("n", "Edm.Int64")) == "41"
    assert lower_bound(None, stamp) is None
    assert lower_bound("2024-03-01T10:00:00Z", Replication("F", "Edm.DateTimeOffset"), UTC) == (
        "2024-03-01T10:00:00Z"
    )


def test_order_is_checked_across_offsets_and_seven_digits() -> None:
    replication = Replication("F", "Edm.DateTimeOffset")
    same_instant = [
        Position("2024-03-01T10:00:00Z", (1,)),
        Position("2024-03-01T05:00:00-05:00", (2,)),
        Position("2024-03-01T10:00:00.0000001Z", (3,)),
    ]
    assert ordered(same_instant, replication)
    assert not ordered(list(reversed(same_instant)), replication)
    assert ordered([Position(None, (9,)), Position("2024-03-01T10:00:00Z", (1,))], replication)
