"""Untrusted text made safe to print: control characters are shown, never obeyed.

A template name, a server's error message or a next link may carry ESC sequences that a
terminal would execute (colours, titles, the clipboard via OSC 52). They are shown as
``\\x1b`` instead; newlines and tabs stay.
"""

from __future__ import annotations

import re

__all__ = ["has_control_characters", "printable"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character (newline and tab included)."""
    return bool(_CONTROL.search(text)) or "\n" in text or "\t" in text
