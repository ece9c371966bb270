"""``cc-console audit verify``: prove the audit trail against its seals and anchors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ..client.seal_key import SecretUnavailable, load_seal_key
from ..errors import CcError, NotFoundError, UsageError
from ..store.archive import is_restored, restore_schema
from ..store.audit_anchor import append_anchors, check_anchors, latest_seals, read_anchors
from ..store.audit_query import audit_clock
from ..store.audit_verify import Verification, verify_chains
from ..store.configs import get_config
from .common import console, emit_json, open_db, parse_duration, session_scope, settings

__all__ = ["verify"]


class VerifyFailed(CcError):
    """The trail does not match its seals (the findings are printed)."""

    exit_code = 1


def _since(value: str | None, now: datetime) -> datetime | None:
    """``--since``: a date or time (UTC unless it says) or a span back from now (7d, 12h)."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            seconds = parse_duration(value, "--since")
        except UsageError:
            raise UsageError(
                f"--since: {value!r} is neither a date (2026-11-01) nor a span (7d, 12h)"
            ) from None
        return now - timedelta(seconds=seconds or 0)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def verify(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="Only runs sealed since a date (2026-11-01) or in the last 7d, 12h…"
        ),
    ] = None,
    config: Annotated[str | None, typer.Option("--config", help="Only this config.")] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            "--anchor",
            help="Check the heads anchored in this file (default: CC_AUDIT_ANCHOR_FILE if it"
            " exists), and append today's there when all is proved.",
            show_default=False,
        ),
    ] = None,
    month: Annotated[
        str | None,
        typer.Option(
            "--month", help="Prove an archived month loaded by `audit restore` (YYYY-MM)."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute every sealed chain of requests and responses and check the seals: exit 0
    with how many rows were proved, or 1 naming the first row, seal or anchor that does not
    match (an edited, inserted or deleted row; a deleted run)."""
    current = settings()
    try:
        key = load_seal_key(current)
    except SecretUnavailable as exc:
        raise CcError(f"cannot verify without the seal key: {exc}") from None
    anchor_file = anchor or current.anchor_path
    if anchor is not None and not anchor.is_file():
        raise NotFoundError(f"no anchor file at {anchor}")
    first = None
    if month is not None:
        try:
            first = datetime.strptime(month, "%Y-%m").date()
        except ValueError:
            raise UsageError(f"--month is YYYY-MM, e.g. 2026-08 (not {month!r})") from None
    schema = restore_schema(first) if first is not None else None
    with open_db() as database:
        config_id = None
        if config is not None:
            with session_scope(database) as session:
                config_id = get_config(session, config).id
        with database.engine.begin() as conn:
            now = audit_clock(conn)
            after = _since(since, now)
            if first is not None and not is_restored(conn, first):
                raise NotFoundError(
                    f"no restored {month}: `cc-console audit restore {month}` first"
                )
            result = verify_chains(conn, key, since=after, config_id=config_id, schema=schema)
            if schema is None and anchor_file.is_file():
                check_anchors(conn, read_anchors(anchor_file), result, config_id)
            anchored = 0
            if result.ok and schema is None:
                anchored = append_anchors(anchor_file, latest_seals(conn, config_id), now)
    _report(result, json_output, anchored, anchor_file)
    if not result.ok:
        raise VerifyFailed(
            f"{len(result.findings) + result.more_findings} finding(s): the audit trail does"
            " not match its seals"
        )


def _report(result: Verification, json_output: bool, anchored: int, anchor_file: Path) -> None:
    if json_output:
        emit_json({**result.as_dict(), "anchored": anchored, "anchor_file": str(anchor_file)})
        return
    for finding in result.findings:
        console.print(f"✗ {finding.message}", markup=False, soft_wrap=True)
    if result.more_findings:
        console.print(f"… and {result.more_findings} more finding(s)")
    notes = []
    if result.open_chains:
        notes.append(f"{result.open_chains} running run(s) not sealed yet")
    if result.archived_chains:
        notes.append(
            f"{result.archived_chains} chain(s) archived by db maintain (prove them with"
            " `audit restore MONTH` then `audit verify --month MONTH`)"
        )
    if result.amended_rows:
        notes.append(
            f"{result.amended_rows:,} of them amended since, by signed amendments (db scrub)"
        )
    if result.predating_rows:
        notes.append(f"{result.predating_rows:,} row(s) predate chaining and cannot be proved")
    tail = f" ({'; '.join(notes)})" if notes else ""
    if result.ok:
        console.print(
            f"proved {result.rows_proved:,} rows in {result.chains_proved:,} chains against"
            f" {result.seals_checked:,} seals{tail}",
            markup=False,
            soft_wrap=True,
        )
        if anchored:
            console.print(f"anchored {anchored} config head(s) in {anchor_file}", markup=False)
