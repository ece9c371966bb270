"""``cc-console audit``: the audit browser's filter language and keyset paging, for scripts and
compliance exports (the same rows, masked as stored, the same JSON lines as the console's).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Connection

from ..engine.control import resolve_run
from ..errors import CcError, NotFoundError, UsageError
from ..store.archive import ArchiveError, restore_month, restore_schema
from ..store.audit_query import (
    AuditFilterError,
    audit_clock,
    audit_jsonl,
    audit_page,
    parse_audit_filter,
)
from ..store.operator_actions import ACTIONS as OPERATOR_ACTIONS
from ..store.operator_actions import action_detail, list_actions, record_action
from .audit_verify import verify
from .common import (
    console,
    emit_json,
    err_console,
    open_db,
    operator,
    parse_duration,
    redaction_key,
    settings,
    with_async_engine,
)

__all__ = ["app"]

app = typer.Typer(help="Search and export the request/response audit trail.")

PAGE = 1000
Key = tuple[datetime, uuid.UUID]


def _cursor(now: datetime, key: Key) -> str:
    """Where the next page starts, opaque: the search's clock and the last row's key."""
    raw = f"{now.isoformat()}|{key[0].isoformat()}|{key[1]}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, Key]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        now, sent, row_id = raw.split("|")
        return datetime.fromisoformat(now), (datetime.fromisoformat(sent), uuid.UUID(row_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise UsageError(
            "--after takes the cursor a previous `audit search` printed (next: …)"
        ) from None


def _cells(row: dict[str, Any]) -> list[str]:
    status = "—" if row["status_code"] is None else str(row["status_code"])
    elapsed = "" if row["elapsed_ms"] is None else f"{row['elapsed_ms']:.0f} ms"
    run = "" if row["run_id"] is None else str(row["run_id"])[:8]
    sent = row["sent_at"].isoformat(timespec="milliseconds")
    return [sent, status, row["method"], row["endpoint_path"], elapsed, run, row["url"]]


@app.command()
def search(
    filter_text: Annotated[
        str,
        typer.Argument(
            metavar="FILTER",
            help="The audit browser's filter, e.g. 'status:5xx since:1d endpoint:patients'.",
        ),
    ] = "",
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows to print (newest first).")
    ] = 100,
    after: Annotated[
        str | None, typer.Option(help="Go on after the cursor a previous search printed.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One JSON line per row.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(help="Write every matching row to FILE as JSON lines (streamed)."),
    ] = None,
    redact: Annotated[
        bool,
        typer.Option(
            "--redact/--no-redact",
            help="Fingerprint the filter literals of resources with a redaction policy"
            " (`audit redact`); --no-redact shows them as sent.",
        ),
    ] = True,
) -> None:
    """Search the request log with the audit browser's filter language; page with --after."""
    if sum((json_output, jsonl, export is not None)) > 1:
        raise UsageError("choose one of --json, --jsonl and --export")
    try:
        flt = parse_audit_filter(filter_text)
    except AuditFilterError as exc:
        raise UsageError(f"filter: {exc}") from None
    now, before = _read_cursor(after) if after else (None, None)
    key = redaction_key() if redact else None
    with open_db() as database, database.engine.connect() as conn:
        now = now or audit_clock(conn)
        if export is not None:
            _export(conn, flt, now, before, export, key)
            return
        rows: list[dict[str, Any]] = []
        while len(rows) < limit:
            page, next_key = audit_page(
                conn,
                flt,
                now=now,
                limit=min(PAGE, limit - len(rows)),
                before=before,
                redaction_key=key,
            )
            rows += page
            if jsonl:
                sys.stdout.writelines(audit_jsonl(row) for row in page)
            before = next_key
            if next_key is None:
                break
    cursor = None if before is None else _cursor(now, before)
    if json_output:
        emit_json({"rows": rows, "next": cursor})
    elif not jsonl:
        table = Table("sent_at", "status", "method", "endpoint", "elapsed", "run", "url", box=None)
        for row in rows:
            table.add_row(*_cells(row))
        console.print(table if rows else "no request matches")
    if cursor is not None and not json_output:
        err_console.print(f"next: {cursor}  (more rows: --after {cursor})")


def _export(
    conn: Connection, flt: Any, now: datetime, before: Key | None, path: Path, key: bytes | None
) -> None:
    """Every matching row, page by page (constant memory), with a progress bar on a TTY."""
    written = 0
    with (
        path.open("w", encoding="utf-8") as out,
        Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as bar,
    ):
        task = bar.add_task("exporting", total=None)
        while True:
            page, before = audit_page(
                conn, flt, now=now, limit=PAGE, before=before, redaction_key=key
            )
            out.writelines(audit_jsonl(row) for row in page)
            written += len(page)
            bar.update(task, completed=written)
            if before is None:
                break
    err_console.print(f"exported {written:,} rows to {path}")


@app.command()
def actions(
    run: Annotated[
        str | None, typer.Option("--run", help="Only actions about this run (id or prefix).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only the last 90s, 15m, 2h, 7d…")
    ] = None,
    action: Annotated[
        str | None,
        typer.Option("--action", help=f"Only one kind: {', '.join(OPERATOR_ACTIONS)}."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Who did what, newest first: each config and template change, each sync, resume, retry
    and cancel asked for from the CLI or the console, each `db maintain`."""
    if action is not None and action not in OPERATOR_ACTIONS:
        raise UsageError(f"--action: unknown {action!r}; one of {', '.join(OPERATOR_ACTIONS)}")
    seconds = parse_duration(since, "--since")
    with open_db() as database:
        run_id = None
        if run is not None:
            run_id = asyncio.run(with_async_engine(database, lambda e: resolve_run(e, run))).id
        with database.engine.connect() as conn:
            after = None if seconds is None else audit_clock(conn) - timedelta(seconds=seconds)
            rows = list_actions(conn, limit=limit, since=after, run_id=run_id, action=action)
    if json_output:
        emit_json(rows)
        return
    if not rows:
        console.print(
            "no operator actions recorded" + (" for that" if run or since or action else "")
        )
        return
    table = Table("at", "who", "via", "action", "config", "template", "run", "detail", box=None)
    for row in rows:
        table.add_row(
            row["at"].isoformat(timespec="seconds"),
            f"{row['os_user']} ({row['db_role']}@{row['host']})",
            row["source"],
            row["action"],
            row["config"] or "",
            row["template"] or (str(row["template_id"])[:8] if row["template_id"] else ""),
            str(row["run_id"])[:8] if row["run_id"] else "",
            action_detail(row),
        )
    console.print(table)


@app.command()
def restore(
    month: Annotated[str, typer.Argument(help="The archived month, YYYY-MM.")],
    archive: Annotated[
        Path | None,
        typer.Option(
            "--from", help="The archive directory (default: CC_ARCHIVE_DIR).", show_default=False
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Load an archived month into a schema of its own (cc_restore_YYYY_MM) for an
    investigation: the files' SHA-256 are checked against the manifest first."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise UsageError(f"MONTH is YYYY-MM, e.g. 2026-08 (not {month!r})") from None
    folder = (archive or settings().archive_path) / first.strftime("%Y-%m")
    if not folder.is_dir():
        raise NotFoundError(f"no archive of {month} at {folder}; see `db maintain`")
    with open_db() as database:
        try:
            with database.engine.begin() as conn:
                loaded = restore_month(conn, folder, first)
                record_action(
                    conn,
                    operator(),
                    "restore",
                    detail={"month": month, "schema": restore_schema(first), "rows": loaded},
                )
        except ArchiveError as exc:
            raise CcError(f"{exc}; nothing was restored") from None
    schema = restore_schema(first)
    if json_output:
        emit_json({"month": month, "schema": schema, "rows": loaded, "from": str(folder)})
        return
    rows = ", ".join(f"{count:,} {table}" for table, count in loaded.items())
    console.print(f"restored {month} from {folder} into schema {schema}: {rows}", markup=False)


app.command()(verify)
