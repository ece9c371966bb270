"""A structural check of ``$filter`` text (OData v4.01 ``commonExpr``), before it is stored.

It refuses what no OData service can accept — unbalanced parentheses or quotes, an
operator without its operands (``status eq``), a word where an operator belongs
(``name equals 'x'``), a malformed lambda or ``in`` list — and points at the position. It
does not know the service's properties or types: the server stays the judge of those. A
function it does not know is a warning, since services add their own.

Precedence, loosest first (OData v4.01 Part 2, 5.1.1): ``or``; ``and``; ``not``; ``eq ne gt ge
lt le has in``; ``add sub``; ``mul div divby mod``; unary ``-``; primaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KNOWN_FUNCTIONS", "FilterSyntaxError", "check_filter"]

KNOWN_FUNCTIONS = frozenset(
    {
        "contains", "startswith", "endswith", "length", "indexof", "substring", "matchespattern",
        "tolower", "toupper", "trim", "concat", "year", "month", "day", "hour", "minute",
        "second", "fractionalseconds", "totalseconds", "date", "time", "totaloffsetminutes",
        "now", "maxdatetime", "mindatetime", "round", "floor", "ceiling", "isof", "cast",
        "geo.distance", "geo.intersects", "geo.length", "hassubset", "hassubsequence", "case",
    }
)  # fmt: skip
COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "has"})
ADDITIVE = frozenset({"add", "sub"})
MULTIPLICATIVE = frozenset({"mul", "div", "divby", "mod"})
_OPERATORS = COMPARISONS | ADDITIVE | MULTIPLICATIVE | {"and", "or", "in"}
_LAMBDAS = frozenset({"any", "all"})
MAX_DEPTH = 50  # parentheses, calls, lambdas, not and unary minus, nested

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)
  | (?P<datetime>[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?
        (?:Z|[+-][0-9]{2}:[0-9]{2})?)?)
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?:[mMdDfFlL]\b)?)
  | (?P<typed>[A-Za-z_][A-Za-z0-9_.]*'(?:[^']|'')*')
  | (?P<name>[$@]?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[()/,:-])
    """,
    re.VERBOSE,
)


class FilterSyntaxError(ValueError):
    """The filter cannot be valid OData; the message names the position (1-based)."""


@dataclass(frozen=True)
class _Token:
    kind: str  # string, guid, datetime, number, typed, name, punct, end
    text: str
    position: int  # 1-based


def _tokens(expression: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(expression):
        match = _TOKEN.match(expression, at)
        if match is None:
            if expression[at] == "'":
                raise FilterSyntaxError(
                    f"unterminated string literal at position {at + 1}"
                    " (double a ' inside a literal: '')"
                )
            raise FilterSyntaxError(f"unexpected {expression[at]!r} at position {at + 1}")
        kind = match.lastgroup or "space"
        if kind != "space":
            found.append(_Token(kind, match.group(), at + 1))
        at = match.end()
    found.append(_Token("end", "", len(expression) + 1))
    return found


def _shown(token: _Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


class _Checker:
    """A recursive-descent walk over the tokens that raises at the first mistake."""

    def __init__(self, expression: str) -> None:
        self.tokens = _tokens(expression)
        self.at = 0
        self.warnings: list[str] = []
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        token = self.token
        return token.kind == "name" and token.text.lower() in words

    def operator_in(self, operators: frozenset[str]) -> bool:
        """Whether the token is one of ``operators`` (case-insensitive, as OData 4.01 says)."""
        return self.token.kind == "name" and self.token.text.lower() in operators

    def punct(self, char: str) -> bool:
        return self.token.kind == "punct" and self.token.text == char

    def expect(self, char: str, what: str) -> None:
        if not self.punct(char):
            raise FilterSyntaxError(
                f"expected {char!r} at position {self.token.position} {what},"
                f" found {_shown(self.token)}"
            )
        self.take()

    def fail_operand(self, after: _Token) -> FilterSyntaxError:
        return FilterSyntaxError(
            f"{after.text!r} at position {after.position} needs an operand after it,"
            f" found {_shown(self.token)} at position {self.token.position}"
        )

    # -- the grammar ----------------------------------------------------------------------
    def check(self) -> list[str]:
        if self.token.kind == "end":
            raise FilterSyntaxError("the filter is empty")
        self.or_expr()
        token = self.token
        if token.kind != "end":
            if self.punct(")"):
                raise FilterSyntaxError(f"unbalanced ')' at position {token.position}")
            raise FilterSyntaxError(
                f"expected an operator (eq, ne, gt, ge, lt, le, has, in, and, or, add, ...)"
                f" or the end at position {token.position}, found {_shown(token)}"
            )
        return self.warnings

    def binary(self, operators: frozenset[str], operand: str) -> None:
        getattr(self, operand)()
        while self.operator_in(operators):
            operator = self.take()
            self.operand_after(operator, operand)

    def operand_after(self, operator: _Token, operand: str) -> None:
        if self.token.kind == "end" or self.punct(")") or self.punct(","):
            raise self.fail_operand(operator)
        if self.operator_in(_OPERATORS):
            raise self.fail_operand(operator)
        getattr(self, operand)()

    def or_expr(self) -> None:
        self.binary(frozenset({"or"}), "and_expr")

    def and_expr(self) -> None:
        self.binary(frozenset({"and"}), "not_expr")

    def not_expr(self) -> None:
        if self.word("not") and self.tokens[self.at + 1].kind != "end":
            operator = self.take()
            self.depth += 1
            self.operand_after(operator, "nested_not")
            self.depth -= 1
            return
        self.comparison()

    def comparison(self) -> None:
        self.additive()
        if self.operator_in(COMPARISONS):
            operator = self.take()
            self.operand_after(operator, "additive")
        elif self.word("in"):
            operator = self.take()
            if self.punct("("):
                self.in_list(operator)
            elif self.token.kind == "name" and not self.operator_in(_OPERATORS):
                self.member()
            else:
                raise FilterSyntaxError(
                    f"'in' at position {operator.position} takes a list like (1, 2, 3),"
                    f" found {_shown(self.token)}"
                )

    def in_list(self, operator: _Token) -> None:
        self.take()  # (
        if self.punct(")"):
            raise FilterSyntaxError(f"the list after 'in' at position {operator.position} is empty")
        self.nested("or_expr")
        while self.punct(","):
            comma = self.take()
            self.operand_after(comma, "nested_or")
        self.expect(")", f"(the list of 'in' at position {operator.position} is unclosed)")

    def nested_or(self) -> None:
        self.nested("or_expr")

    def nested_not(self) -> None:
        self.nested("not_expr")

    def nested_unary(self) -> None:
        self.nested("unary")

    def nested(self, rule: str) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterSyntaxError(f"the filter nests more than {MAX_DEPTH} levels deep")
        getattr(self, rule)()
        self.depth -= 1

    def additive(self) -> None:
        self.binary(ADDITIVE, "multiplicative")

    def multiplicative(self) -> None:
        self.binary(MULTIPLICATIVE, "unary")

    def unary(self) -> None:
        if self.punct("-"):
            operator = self.take()
            self.operand_after(operator, "nested_unary")
            return
        self.primary()

    def primary(self) -> None:
        token = self.token
        if token.kind in ("string", "guid", "datetime", "number", "typed"):
            self.take()
            return
        if self.punct("("):
            opening = self.take()
            if self.punct(")"):
                raise FilterSyntaxError(f"empty parentheses at position {opening.position}")
            self.nested("or_expr")
            if self.punct(","):  # a list outside 'in'
                raise FilterSyntaxError(
                    f"a list at position {opening.position} is only allowed after 'in'"
                )
            self.expect(")", f"(the '(' at position {opening.position} is unclosed)")
            return
        if token.kind == "name" and not self.operator_in(_OPERATORS):
            self.member()
            return
        raise FilterSyntaxError(
            f"expected a value, a property or a function at position {token.position},"
            f" found {_shown(token)}"
        )

    def member(self) -> None:
        """A property path, a function call or a lambda: ``a/b``, ``f(x, y)``,
        ``Items/any(i: i/Qty gt 1)``."""
        name = self.take()
        if self.punct("("):
            self.call(name)
        while self.punct("/"):
            slash = self.take()
            if self.token.kind != "name" or self.operator_in(_OPERATORS):
                raise FilterSyntaxError(
                    f"'/' at position {slash.position} needs a property name after it,"
                    f" found {_shown(self.token)}"
                )
            step = self.take()
            if step.text.lower() in _LAMBDAS and self.punct("("):
                self.lambda_(step)
            elif self.punct("("):
                self.call(step)

    def call(self, name: _Token) -> None:
        opening = self.take()  # (
        if name.text.lower() not in KNOWN_FUNCTIONS and name.text.lower() not in ("true", "false"):
            self.warnings.append(
                f"unknown function {name.text!r} at position {name.position}"
                " (kept: the service may define it)"
            )
        if self.punct(")"):
            self.take()
            return
        self.nested("or_expr")
        while self.punct(","):
            comma = self.take()
            self.operand_after(comma, "nested_or")
        self.expect(")", f"to close {name.text}( at position {opening.position}")

    def lambda_(self, operator: _Token) -> None:
        opening = self.take()  # (
        if self.punct(")"):  # any() with no condition: is the collection not empty
            self.take()
            return
        variable = self.token
        if variable.kind != "name" or self.operator_in(_OPERATORS):
            raise FilterSyntaxError(
                f"{operator.text}( at position {opening.position} starts with a variable,"
                f" as in {operator.text}(x: x/Qty gt 1)"
            )
        self.take()
        self.expect(":", f"after the lambda variable {variable.text!r}")
        if self.punct(")"):
            raise FilterSyntaxError(
                f"{operator.text}( at position {opening.position} needs a condition after ':'"
            )
        self.nested("or_expr")
        self.expect(")", f"to close {operator.text}( at position {opening.position}")


def check_filter(expression: str) -> list[str]:
    """Warnings about ``expression`` (unknown functions); :class:`FilterSyntaxError` if it
    cannot be valid OData."""
    return _Checker(expression).check()
