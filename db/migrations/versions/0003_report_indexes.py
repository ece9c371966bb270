"""reports: a narrow index on the responses that did not parse; status within a time window

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

The validation report needs parse_ok per endpoint over a window. Counting every response
of a week means joining ~230k requests to their responses at a million log rows (0.7 s);
instead it counts requests per endpoint from the (endpoint_path, sent_at) index and joins
only the exceptions: non-2xx responses (status_code index) and the unparsed ones — this
partial index, which holds ~1% of the rows.

The audit browser's ``status:429`` (and the reports' non-2xx counts) ask for one status in a
time window; (status_code, sent_at) answers that from the index range instead of fetching
every 429 of the month to check its time (95 ms -> a few ms at a million rows).

The audit browser's default view is "the newest requests": request_log (sent_at) reads them
in order instead of sorting a month partition (25 ms -> under 1 ms).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_cc_api_response_log_unparsed ON cc_api_response_log (sent_at)"
        " WHERE NOT parse_ok"
    )
    op.execute(
        "CREATE INDEX ix_cc_api_response_log_status_sent ON cc_api_response_log"
        " (status_code, sent_at)"
    )
    op.execute("CREATE INDEX ix_cc_api_request_log_sent_at ON cc_api_request_log (sent_at)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_cc_api_request_log_sent_at")
    op.execute("DROP INDEX ix_cc_api_response_log_status_sent")
    op.execute("DROP INDEX ix_cc_api_response_log_unparsed")
