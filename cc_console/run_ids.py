"""Run ids as people type them: a prefix of 4 to 32 hex digits, or a full UUID.

One parser for the CLI (``resume``, ``retry``, ``cancel``), the audit filter (``run:``) and the
console, so the same text means the same runs everywhere. A prefix is a range of UUIDs,
which the ``id`` and ``(run_id, sent_at)`` indexes answer directly.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

__all__ = ["RunIdError", "RunIdPrefix", "parse_run_id"]

_HEX = re.compile(r"[0-9a-fA-F]{4,32}")  # a character class: ASCII only, whatever Unicode says
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class RunIdError(ValueError):
    """Text that is neither a run-id prefix nor a UUID."""


@dataclass(frozen=True)
class RunIdPrefix:
    """The first 4 to 32 hex digits of a run id (lower case, no dashes)."""

    digits: str

    @property
    def is_full(self) -> bool:
        return len(self.digits) == 32

    def bounds(self) -> tuple[uuid.UUID, uuid.UUID]:
        """The lowest and the highest id with this prefix."""
        return uuid.UUID(self.digits.ljust(32, "0")), uuid.UUID(self.digits.ljust(32, "f"))

    def __str__(self) -> str:
        return str(uuid.UUID(self.digits)) if self.is_full else self.digits


def parse_run_id(text: str) -> RunIdPrefix:
    """``text`` as a run id prefix; :class:`RunIdError` says what a run id looks like."""
    value = text.strip()
    if _UUID.fullmatch(value):
        return RunIdPrefix(value.replace("-", "").lower())
    if _HEX.fullmatch(value):
        return RunIdPrefix(value.lower())
    raise RunIdError(
        "a run id is 4 to 32 hex digits (a prefix, e.g. 3f2a9c1e) or a full UUID"
        " (see `cc-console runs`)"
    )
