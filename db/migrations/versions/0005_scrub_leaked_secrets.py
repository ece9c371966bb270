"""security: mask keys already written in clear (a custom auth header name, echoed values)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Before this release the engine masked only the always-masked header names and the config's
extra masked headers, never the config's own ``auth_header``: a key sent as ``X-Custom-Key``
was stored in clear in ``cc_api_request_log.headers``. This revision masks, for every
config, that header and every value containing a key that resolves in the upgrading
process's environment, in the request and response logs, error events and run messages
(``cc_console.client.leaks``; ``cc-console db scrub`` does the same again later). It prints
how many rows it changed per config and, when there were any, tells the operator to rotate
the key. Masking cannot be undone: the downgrade changes nothing.

The scrub reads only columns that exist at this revision, with plain SQL, so it keeps
working when later revisions change the models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alembic import context, op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from cc_console.client.leaks import describe_scrub, scrub_leaked_secrets

    results = scrub_leaked_secrets(op.get_bind())
    notice: Callable[[str], None] = context.config.attributes.get("notice", print)
    for line in describe_scrub(results):
        notice(line)


def downgrade() -> None:
    pass  # a masked key stays masked
