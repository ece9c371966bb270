"""A light syntax check of ``$filter`` text, to refuse obvious mistakes before storing."""

from __future__ import annotations

__all__ = ["FilterSyntaxError", "check_filter"]


class FilterSyntaxError(ValueError):
    """The filter cannot be valid OData."""


def check_filter(expression: str) -> str:
    """Return ``expression`` if quotes and parentheses balance; raise otherwise."""
    depth = 0
    in_literal = False
    for position, char in enumerate(expression):
        if char == "'":
            in_literal = not in_literal  # '' inside a literal toggles twice: still inside
            continue
        if in_literal:
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FilterSyntaxError(f"unbalanced ')' at position {position + 1}")
    if in_literal:
        raise FilterSyntaxError("unterminated string literal (double a ' inside a literal: '')")
    if depth:
        raise FilterSyntaxError(f"{depth} unclosed '('")
    return expression
