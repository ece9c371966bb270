"""OData v4 URL conventions on the server side: the query string, $filter, $orderby, $select.

The query string is split on ``&`` and percent-decoded by RFC 3986 — a ``+`` is a plus sign,
never a space. ``$filter`` follows the ABNF's precedence (``not``, comparisons and ``in``,
``and``, ``or``), literals are typed (strings in single quotes with ``''`` for a quote,
numbers, ``true``/``false``/``null``, bare dates, date-times with an offset and GUIDs), and
an operator between incompatible types is a 400, as the spec's reference services answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote

__all__ = [
    "Bound",
    "ODataQueryError",
    "compile_filter",
    "compile_orderby",
    "filter_bounds",
    "parse_query",
    "select",
]

Record = dict[str, Any]
Evaluator = Callable[[Record], Any]


@dataclass(frozen=True)
class Bound:
    """What a filter implies for one property's rows: whether nulls may match, and the
    lowest non-null value that may (None: no non-null value matches)."""

    nulls: bool
    low: Any


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _max(a: Any, b: Any) -> Any:
    return None if a is None or b is None else max(a, b)


def _either(a: Bound, b: Bound) -> Bound:
    return Bound(a.nulls or b.nulls, _min(a.low, b.low))


def _both(a: Bound, b: Bound) -> Bound:
    return Bound(a.nulls and b.nulls, _max(a.low, b.low))


Bounds = dict[str, Bound]
SYSTEM_OPTIONS = (
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$expand",
    "$format",
    "$search",
)


class ODataQueryError(ValueError):
    """A query the service refuses: answered 400 with this message."""


def parse_query(raw: str) -> dict[str, str]:
    """``$top=5&$filter=Phone%20eq%20'%2B49'`` → options; names of system options folded."""
    options: dict[str, str] = {}
    for part in raw.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote(name), unquote(value)
        if name.startswith("$"):
            lowered = name.lower()
            if lowered not in SYSTEM_OPTIONS:
                raise ODataQueryError(f"The query parameter '{name}' is not supported.")
            name = lowered
        if name in options:
            raise ODataQueryError(f"Query option '{name}' was specified more than once.")
        options[name] = value
    return options


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_OPERATORS = {"eq", "ne", "gt", "ge", "lt", "le"}
_NUMERIC = {"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.Decimal", "Edm.Double"}
_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_STRING_FUNCTIONS = {
    "contains": 2,
    "startswith": 2,
    "endswith": 2,
    "tolower": 1,
    "toupper": 1,
    "trim": 1,
    "length": 1,
}
_DATE_FUNCTIONS = {"year", "month", "day"}


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ODataQueryError(f"Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _family(edm: str) -> str:
    if edm in _NUMERIC:
        return "number"
    return {
        "Edm.String": "string",
        "Edm.Boolean": "bool",
        "Edm.Date": "date",
        "Edm.DateTimeOffset": "datetime",
        "Edm.Guid": "guid",
        "null": "null",
    }.get(edm, edm)


class _Parser:
    """Recursive descent over the tokens; each node is (evaluator, Edm type)."""

    def __init__(self, text: str, properties: dict[str, str], type_name: str) -> None:
        self.text, self.properties, self.type_name = text, properties, type_name
        self.tokens = _tokens(text)
        self.position = 0
        # what the last primary was (a bare property or a literal), and the lower bounds
        # each node implies: {property: value} — ``P gt c`` and its kin imply P >= c
        self.atom: tuple[str, Any] | None = None
        self.bounds: Bounds = {}

    def peek(self, value: str | None = None) -> tuple[str, str] | None:
        token = self.tokens[self.position] if self.position < len(self.tokens) else None
        if value is not None and (token is None or token[1] != value):
            return None
        return token

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            wanted = f"'{value}'" if value else "an expression"
            raise ODataQueryError(f"Syntax error: {wanted} expected in '{self.text}'.")
        self.position += 1
        return token

    def parse(self) -> Evaluator:
        evaluator, edm = self.or_expr()
        self.implied = self.bounds
        if (extra := self.peek()) is not None:
            raise ODataQueryError(f"Syntax error at '{extra[1]}' in '{self.text}'.")
        if edm not in ("Edm.Boolean", "null"):
            raise ODataQueryError(
                f"The $filter expression must evaluate to a single boolean value, not {edm}."
            )
        return lambda r: evaluator(r) is True

    def or_expr(self) -> tuple[Evaluator, str]:
        left, edm = self.and_expr()
        bounds = self.bounds
        while self.peek("or"):
            self.take()
            right, _ = self.and_expr()
            # a disjunction implies what both sides imply: the lower of the two bounds
            bounds = {p: _either(v, self.bounds[p]) for p, v in bounds.items() if p in self.bounds}
            left = (lambda a, b: lambda r: a(r) is True or b(r) is True)(left, right)
            edm = "Edm.Boolean"
        self.bounds = bounds
        return left, edm

    def and_expr(self) -> tuple[Evaluator, str]:
        left, edm = self.not_expr()
        bounds = self.bounds
        while self.peek("and"):
            self.take()
            right, _ = self.not_expr()
            # a conjunction implies what either side implies: the higher bound
            bounds = {**bounds, **{p: _both(v, bounds.get(p, v)) for p, v in self.bounds.items()}}
            left = (lambda a, b: lambda r: a(r) is True and b(r) is True)(left, right)
            edm = "Edm.Boolean"
        self.bounds = bounds
        return left, edm

    def not_expr(self) -> tuple[Evaluator, str]:
        if self.peek("not"):
            self.take()
            inner, _ = self.not_expr()
            self.bounds = {}
            return (lambda r: not inner(r)), "Edm.Boolean"
        return self.comparison()

    def comparison(self) -> tuple[Evaluator, str]:
        self.bounds = {}
        left, left_type = self.primary()
        left_atom = self.atom
        token = self.peek()
        if token and token[0] == "name" and token[1] in _OPERATORS:
            operator = self.take()[1]
            right, right_type = self.primary()
            right_atom = self.atom
            self._compatible(left_type, right_type, operator)
            self.bounds = {}
            if left_atom is not None and left_atom[0] == "property" and right_atom is not None:
                if operator in ("gt", "ge", "eq") and right_atom[0] == "literal":
                    self.bounds = {left_atom[1]: Bound(False, right_atom[1])}
                elif operator == "eq" and right_atom[0] == "null":
                    self.bounds = {left_atom[1]: Bound(True, None)}
            return _compare(operator, left, right), "Edm.Boolean"
        if token and token[1] == "in":
            self.take()
            self.take("(")
            items = [self.primary()]
            while self.peek(","):
                self.take()
                items.append(self.primary())
            self.take(")")
            for _, item_type in items:
                self._compatible(left_type, item_type, "eq")
            values = [evaluator for evaluator, _ in items]
            self.bounds = {}
            return (lambda r: left(r) in [v(r) for v in values]), "Edm.Boolean"
        return left, left_type

    def _compatible(self, left: str, right: str, operator: str) -> None:
        a, b = _family(left), _family(right)
        if "null" in (a, b) or a == b:
            if operator not in ("eq", "ne") and "bool" in (a, b):
                raise ODataQueryError(f"Operator '{operator}' is not defined for Edm.Boolean.")
            return
        raise ODataQueryError(
            "A binary operator with incompatible types was detected. Found operand types"
            f" '{left}' and '{right}' for operator kind '{_KIND[operator]}'."
        )

    def primary(self) -> tuple[Evaluator, str]:
        self.atom = None
        kind, text = self.take()
        if text == "(":
            inner = self.or_expr()
            self.take(")")
            self.atom = None  # the bounds of the inner expression stay
            return inner
        self.bounds = {}
        if kind == "string":
            value = text[1:-1].replace("''", "'")
            self.atom = ("literal", value)
            return (lambda r: value), "Edm.String"
        if kind == "number":
            number: float | int = float(text) if any(c in text for c in ".eE") else int(text)
            self.atom = ("literal", number)
            return (lambda r: number), "Edm.Decimal" if isinstance(number, float) else "Edm.Int64"
        if kind == "datetime":
            moment = _moment(text)
            self.atom = ("literal", moment)
            return (lambda r: moment), "Edm.DateTimeOffset"
        if kind == "date":
            day = date.fromisoformat(text)
            self.atom = ("literal", day)
            return (lambda r: day), "Edm.Date"
        if kind == "guid":
            guid = text.lower()
            return (lambda r: guid), "Edm.Guid"
        if kind == "name" and text in ("true", "false"):
            flag = text == "true"
            return (lambda r: flag), "Edm.Boolean"
        if kind == "name" and text == "null":
            self.atom = ("null", None)
            return (lambda r: None), "null"
        if kind == "name" and self.peek("("):
            return self.function(text)
        if kind == "name":
            found = self.property(text)
            self.atom = ("property", text)
            return found
        raise ODataQueryError(f"Syntax error at '{text}' in '{self.text}'.")

    def property(self, name: str) -> tuple[Evaluator, str]:
        edm = self.properties.get(name)
        if edm is None:
            raise ODataQueryError(
                f"Could not find a property named '{name}' on type '{self.type_name}'."
            )
        return _getter(name, edm), edm

    def function(self, name: str) -> tuple[Evaluator, str]:
        self.take("(")
        args = [self.or_expr()]
        while self.peek(","):
            self.take()
            args.append(self.or_expr())
        self.take(")")
        if name in _STRING_FUNCTIONS and len(args) == _STRING_FUNCTIONS[name]:
            if any(_family(t) not in ("string", "null") for _, t in args):
                raise ODataQueryError(f"No function signature for '{name}' matches the arguments.")
            return _string_function(name, [a for a, _ in args])
        if name in _DATE_FUNCTIONS and len(args) == 1:
            if _family(args[0][1]) not in ("date", "datetime"):
                raise ODataQueryError(f"No function signature for '{name}' matches the arguments.")
            inner = args[0][0]
            return (lambda r: _part(inner(r), name)), "Edm.Int32"
        raise ODataQueryError(f"An unknown function with name '{name}' was found.")


def _value(record: Record, path: str) -> Any:
    """The value at ``path`` (``study/id`` reaches into a nested object)."""
    value: Any = record
    for part in path.split("/"):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


@functools.total_ordering
class _Instant:
    """A DateTimeOffset with the 100 ns precision of .NET (seven fractional digits) that
    datetime cuts to six: two stamps that differ in the seventh digit are not equal."""

    __slots__ = ("moment", "order")

    def __init__(self, moment: datetime, tick: int) -> None:
        self.moment = moment  # the value in its own offset (for year(), hour() ...)
        self.order = (moment.astimezone(UTC), tick)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Instant) and self.order == other.order

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, _Instant):
            return NotImplemented
        return self.order < other.order

    def __hash__(self) -> int:
        return hash(self.order)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.moment, name)


_FRACTION = re.compile(r"\.(\d+)")


def _moment(text: str) -> _Instant:
    digits = _FRACTION.search(text)
    fraction = (digits.group(1) if digits else "").ljust(7, "0")
    cut = _FRACTION.sub("." + fraction[:6], text, count=1) if digits else text
    moment = datetime.fromisoformat(cut.replace("Z", "+00:00").replace("z", "+00:00"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive: read as UTC
    return _Instant(moment, int(fraction[6]))


def _getter(name: str, edm: str) -> Evaluator:
    if edm == "Edm.DateTimeOffset":
        return lambda r: None if (v := _value(r, name)) is None else _moment(v)
    if edm == "Edm.Date":
        return lambda r: None if (v := _value(r, name)) is None else date.fromisoformat(v)
    if edm == "Edm.Guid":
        return lambda r: None if (v := _value(r, name)) is None else str(v).lower()
    return lambda r: _value(r, name)


def _compare(operator: str, left: Evaluator, right: Evaluator) -> Evaluator:
    def evaluate(r: Record) -> bool:
        a, b = left(r), right(r)
        if operator == "eq":
            return bool(a == b)
        if operator == "ne":
            return bool(a != b)
        if a is None or b is None:  # null compares false with any order
            return False
        return bool({"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[operator])

    return evaluate


def _string_function(name: str, args: list[Evaluator]) -> tuple[Evaluator, str]:
    def text(i: int, r: Record) -> str | None:
        value = args[i](r)
        return value if isinstance(value, str) else None

    if name in ("contains", "startswith", "endswith"):
        tests: dict[str, Callable[[str, str], bool]] = {
            "contains": lambda a, b: b in a,
            "startswith": str.startswith,
            "endswith": str.endswith,
        }
        test = tests[name]
        return (
            lambda r: (
                (a := text(0, r)) is not None and (b := text(1, r)) is not None and bool(test(a, b))
            )
        ), "Edm.Boolean"
    if name == "length":
        return (lambda r: None if (a := text(0, r)) is None else len(a)), "Edm.Int32"
    changes: dict[str, Callable[[str], str]] = {
        "tolower": str.lower,
        "toupper": str.upper,
        "trim": str.strip,
    }
    change = changes[name]
    return (lambda r: None if (a := text(0, r)) is None else change(a)), "Edm.String"


def _part(value: Any, name: str) -> int | None:
    if value is None:
        return None
    return int(getattr(value, name))


def compile_filter(text: str, properties: dict[str, str], type_name: str) -> Evaluator:
    """A predicate for ``$filter`` (properties: name → Edm type)."""
    return _Parser(text, properties, type_name).parse()


def filter_bounds(
    text: str, properties: dict[str, str], type_name: str
) -> tuple[Evaluator, Bounds, Callable[[str], Evaluator]]:
    """The predicate, the lower bounds it implies ({property: value}: no row below the value
    can match — a server's index seek), and the typed getter of a property."""
    parser = _Parser(text, properties, type_name)
    predicate = parser.parse()
    return predicate, parser.implied, lambda name: _getter(name, properties[name])


def compile_orderby(
    text: str, properties: dict[str, str], type_name: str
) -> list[tuple[str, bool]]:
    """``Country desc,OrderID`` → [(property, descending)]."""
    order = []
    for item in text.split(","):
        parts = item.split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
            raise ODataQueryError(f"Syntax error in $orderby '{text}'.")
        if parts[0] not in properties:
            raise ODataQueryError(
                f"Could not find a property named '{parts[0]}' on type '{type_name}'."
            )
        order.append((parts[0], len(parts) == 2 and parts[1] == "desc"))
    return order


def select(text: str, properties: dict[str, str], type_name: str) -> list[str]:
    """The properties ``$select`` names (``*`` is all)."""
    names = [name.strip() for name in text.split(",")]
    if names == ["*"]:
        return list(properties)
    for name in names:
        if name not in properties:
            raise ODataQueryError(
                f"Could not find a property named '{name}' on type '{type_name}'."
            )
    return names
