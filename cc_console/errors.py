"""User-facing failures: one line of text and an exit code, never a traceback.

```
CcError                 exit 1   something the user asked for cannot be done
├── UsageError          exit 2   bad input: invalid config value, bad reference, unknown name
├── NotFoundError       exit 3   the named config / template / run does not exist
└── DatabaseError       exit 2   PostgreSQL unreachable, or the schema is not migrated
```
"""

from __future__ import annotations

__all__ = ["CcError", "DatabaseError", "NotFoundError", "UsageError"]


class CcError(Exception):
    """A failure with a message fit to print as one line."""

    exit_code = 1


class UsageError(CcError):
    """The input was wrong; the message says what to change."""

    exit_code = 2


class NotFoundError(CcError):
    """A named object does not exist."""

    exit_code = 3


class DatabaseError(CcError):
    """The database cannot be used right now."""

    exit_code = 2
