"""OData query options as the simulated server understands them: $filter, $orderby, $select.

A small recursive-descent parser (no shared code with the client's ``odata/`` package, on
purpose): ``eq ne gt ge lt le and or not ( )``, ``contains/startswith/endswith/tolower/
toupper``, string literals with doubled quotes, numbers, booleans, ``null``, unquoted
ISO-8601 datetimes and GUIDs, property paths like ``study/id``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["QueryError", "compile_filter", "compile_orderby", "compile_select"]

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
Getter = Callable[[Record], Any]


class QueryError(ValueError):
    """The query is not valid; the message is the vendor-style explanation."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
_BOOL_FUNCTIONS: dict[str, Callable[[Any, Any], bool]] = {
    "contains": lambda a, b: isinstance(a, str) and isinstance(b, str) and b in a,
    "startswith": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.startswith(b),
    "endswith": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.endswith(b),
}
_VALUE_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "tolower": lambda a: a.lower() if isinstance(a, str) else a,
    "toupper": lambda a: a.upper() if isinstance(a, str) else a,
    "length": lambda a: len(a) if isinstance(a, str) else None,
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise QueryError(f"Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup or ""
        if kind != "ws":
            out.append((kind, match.group()))
        position = match.end()
    return out


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _path_getter(path: str, schema: Record, type_name: str) -> Getter:
    parts = path.split("/")
    node: Any = schema
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            raise QueryError(
                "The query specified in the URI is not valid. "
                f"Could not find a property named '{part}' on type '{type_name}'."
            )
        node = node[part]

    def get(record: Record) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value

    return get


class _Parser:
    def __init__(self, text: str, schema: Record, type_name: str) -> None:
        self.tokens = _tokens(text)
        self.position = 0
        self.schema = schema
        self.type_name = type_name
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            wanted = value or kind or "a token"
            found = token[1] if token else "the end"
            raise QueryError(f"Syntax error: expected {wanted} but found {found} in '{self.text}'.")
        self.position += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and token[1] == word:
            self.position += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if (extra := self.peek()) is not None:
            raise QueryError(f"Syntax error: unexpected '{extra[1]}' in '{self.text}'.")
        return predicate

    def or_expr(self) -> Predicate:
        left = self.and_expr()
        while self.keyword("or"):
            right = self.and_expr()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self.keyword("and"):
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.unary()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Predicate:
        token = self.peek()
        if token and token[0] == "lparen":
            self.take("lparen")
            inner = self.or_expr()
            self.take("rparen")
            return inner
        left = self.operand()
        op = self.peek()
        if op and op[0] == "name" and op[1] in _COMPARISONS:
            self.position += 1
            right = self.operand()
            compare = _COMPARISONS[op[1]]
            return lambda r: bool(compare(*_coerce(left(r), right(r))))
        return lambda r: left(r) is True

    def operand(self) -> Getter:
        kind, text = self.take()
        if kind == "string":
            value = text[1:-1].replace("''", "'")
            return lambda r: value
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda r: number
        if kind == "datetime":
            moment = _as_datetime(text)
            return lambda r: moment
        if kind in ("guid", "date"):
            return lambda r: text
        if kind == "name":
            if text in ("true", "false"):
                flag = text == "true"
                return lambda r: flag
            if text == "null":
                return lambda r: None
            nxt = self.peek()
            if nxt and nxt[0] == "lparen":
                return self.function(text)
            return _path_getter(text, self.schema, self.type_name)
        raise QueryError(f"Syntax error: unexpected '{text}' in '{self.text}'.")

    def function(self, name: str) -> Getter:
        self.take("lparen")
        args = [self.operand()]
        while (nxt := self.peek()) and nxt[0] == "comma":
            self.take("comma")
            args.append(self.operand())
        self.take("rparen")
        if name in _BOOL_FUNCTIONS and len(args) == 2:
            fn2 = _BOOL_FUNCTIONS[name]
            a, b = args
            return lambda r: fn2(a(r), b(r))
        if name in _VALUE_FUNCTIONS and len(args) == 1:
            fn1 = _VALUE_FUNCTIONS[name]
            (a,) = args
            return lambda r: fn1(a(r))
        raise QueryError(f"An unknown function with name '{name}' was found.")


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, datetime) and not isinstance(right, datetime):
        return left, _as_datetime(right)
    if isinstance(right, datetime) and not isinstance(left, datetime):
        return _as_datetime(left), right
    if isinstance(left, str) and isinstance(right, (int, float)) and not isinstance(right, bool):
        return None, None  # incompatible types never match (the vendor answers 400 up front)
    if isinstance(left, str) and isinstance(right, str) and _looks_like_guid(right):
        return left.lower(), right.lower()
    return left, right


def _looks_like_guid(value: str) -> bool:
    return len(value) == 36 and value.count("-") == 4


def compile_filter(text: str, schema: Record, type_name: str) -> Predicate:
    """A predicate for ``$filter`` text; QueryError when it is not valid."""
    return _Parser(text, schema, type_name).parse()


def compile_orderby(text: str, schema: Record, type_name: str) -> list[tuple[Getter, bool]]:
    """``[(getter, descending), ...]`` for ``$orderby`` text."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise QueryError(f"The $orderby expression '{text}' is not valid.")
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise QueryError(f"Syntax error in $orderby at '{part}'.")
        keys.append(
            (
                _path_getter(words[0], schema, type_name),
                len(words) == 2 and words[1].lower() == "desc",
            )
        )
    return keys


def compile_select(text: str, schema: Record, type_name: str) -> list[str]:
    """Top-level property names of ``$select``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if name != "*" and name not in schema:
            raise QueryError(
                "The query specified in the URI is not valid. "
                f"Could not find a property named '{name}' on type '{type_name}'."
            )
    return [] if "*" in names else names
