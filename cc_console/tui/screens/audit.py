"""The audit browser: every request attempt, filtered with a small language, keyset-paged."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Input, Static

from ...store.audit_query import (
    AuditFilter,
    AuditFilterError,
    audit_jsonl,
    audit_page,
    parse_audit_filter,
)
from ...store.details import as_curl, load_request
from ..components.key_bar import KeyBar
from ..components.live_table import Column, LiveTable
from ..components.panes import request_cells, request_key, request_ref
from ..format import plain, plain_line
from ..keymap import bindings
from ..messages import AuditPage, AuditProblem
from .base import DetailScreen

__all__ = ["AuditScreen", "EXPORT_CAP"]

PAGE = 100
EXPORT_CAP = 100_000
AUDIT_COLUMNS = [
    Column("time", "time", keep=10),
    Column("method", "verb", keep=4),
    Column("endpoint", "endpoint", keep=8),
    Column("status", "code", keep=9),
    Column("ms", "ms", keep=6),
    Column("size", "size", keep=5),
    Column("attempt", "try", keep=3),
    Column("run", "run", keep=7),
    Column("url", "url", keep=2, flex=True, min_width=20),
]


class AuditScreen(DetailScreen):
    """Requests newest first; ``status:429 endpoint:subjects run:<id> since:1h !status:200``."""

    HELP = (
        "Every request attempt in a time window, newest first. Filter terms: status:429 "
        "status:5xx endpoint:subjects run:<id> method:GET kind:http_503 since:1h until:10m, "
        "!term negates, bare words match the URL."
    )
    WIDGET_KEYS: ClassVar = [("enter", "apply the filter / open the request")]
    BINDINGS: ClassVar = bindings("audit")

    def __init__(self, query: str = "", crumbs: list[str] | None = None) -> None:
        super().__init__(crumbs or ["Dashboard"], id="audit")
        self.query_text = query
        self.filter: AuditFilter | None = None
        self.rows: list[dict[str, Any]] = []
        self.next_key: tuple[datetime, uuid.UUID] | None = None
        self.now: datetime | None = None
        self.generation = 0  # bumped by each filter applied
        self.paging = False  # a next page is being read (n again waits for it)

    @property
    def crumb(self) -> str:
        return "Audit"

    def compose(self) -> ComposeResult:
        yield self.breadcrumb()
        yield Input(
            value=self.query_text,
            placeholder="status:429 endpoint:subjects since:1h",
            id="audit-filter",
        )
        yield Static(id="audit-status")
        yield LiveTable(AUDIT_COLUMNS, id="audit-table")
        yield KeyBar()

    def on_mount(self) -> None:
        self.show_crumbs()
        self.apply_filter(self.query_text)
        # typing goes into the filter (status:429 must not fire s, the sync picker, or :)
        self.query_one("#audit-filter", Input).focus()

    @on(Input.Submitted, "#audit-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.apply_filter(event.value)
        self.query_one("#audit-table", DataTable).focus()

    def action_edit_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def apply_filter(self, query: str) -> None:
        """Parse ``query`` and show its first page (a bad term is shown, nothing is run)."""
        try:
            self.filter = parse_audit_filter(query)
        except AuditFilterError as exc:
            self._stale(f"filter: {exc}")
            return
        self.query_text = query
        self.generation += 1
        self.paging = False
        self.now = self.console.clock()
        self.rows, self.next_key = [], None
        self.query_one("#audit-table", LiveTable).sync([])
        self._page(None)

    def action_more(self) -> None:
        if self.next_key is None:
            self.notify("no more rows in this window")
        elif not self.paging:
            self.paging = True
            self._page(self.next_key)

    @work(group="audit", exclusive=True, exit_on_error=False)
    async def _page(self, before: tuple[datetime, uuid.UUID] | None) -> None:
        assert self.filter is not None and self.now is not None
        flt, now, generation = self.filter, self.now, self.generation
        key = self.console.redaction_key
        try:
            async with self.engine().connect() as conn:
                rows, next_key = await conn.run_sync(
                    lambda c: audit_page(
                        c, flt, now=now, limit=PAGE, before=before, redaction_key=key
                    )
                )
        except (SQLAlchemyError, OSError, ValueError, OverflowError) as exc:
            problem = f"the query failed: {type(exc).__name__}: {plain_line(exc)}"
            self.post_message(AuditProblem(problem))
            return
        self.post_message(AuditPage(rows, next_key, generation))

    def on_audit_problem(self, message: AuditProblem) -> None:
        self.paging = False
        self._stale(message.problem)

    def on_audit_page(self, message: AuditPage) -> None:
        if message.generation != self.generation:
            return  # a page of a filter replaced since
        self.paging = False
        rows, next_key = message.rows, message.next_key
        now = self.now
        assert now is not None
        self.rows.extend(rows)
        self.query_one("#audit-table", LiveTable).sync(
            [(request_key(q), None, partial(_audit_cells, q, now)) for q in self.rows]
        )
        self.next_key = next_key
        more = "  (n: more)" if next_key else "  (all shown)"
        count = f"{len(self.rows):,} row{'' if len(self.rows) == 1 else 's'}"
        self._status(Text(f"{count}{more}   filter: {self.query_text or '(none)'}"))

    def _stale(self, problem: str) -> None:
        """Say what is wrong; the rows shown stay, marked as the previous filter's."""
        shown = f"{len(self.rows):,} rows of the previous filter ({self.query_text or 'none'})"
        status = Text(problem, style="bold red")
        status.append(f"   — showing {shown}, stale", style="dim")
        self._status(status)

    def _status(self, text: Text) -> None:
        self.query_one("#audit-status", Static).update(text)

    @on(DataTable.RowSelected, "#audit-table")
    def _open(self, event: DataTable.RowSelected) -> None:
        from .request_detail import RequestDetailScreen

        keys = [(q["id"], q["sent_at"]) for q in self.rows]
        index = keys.index(request_ref(event.row_key.value or ""))
        self.app.push_screen(RequestDetailScreen(keys, index, crumbs=[*self.crumbs, self.crumb]))

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one("#audit-table", LiveTable)
        return (
            self.rows[table.cursor_row] if self.rows and table.cursor_row < len(self.rows) else None
        )

    @work(group="audit-copy", exit_on_error=False)
    async def action_copy_curl(self) -> None:
        row = self._selected()
        if row is None:
            return
        async with self.engine().connect() as conn:
            request = await load_request(
                conn, (row["id"], row["sent_at"]), self.console.redaction_key
            )
        if request is not None:
            self.app.copy_to_clipboard(as_curl(request))
            self.notify("copied as curl (it reads the key from the secret reference when run)")

    @work(group="audit-export", exclusive=True, exit_on_error=False)
    async def action_export(self) -> None:
        if self.filter is None or self.now is None:
            return
        exports = self.console.exports_dir
        exports.mkdir(parents=True, exist_ok=True)
        path = exports / f"cc-audit-{self.now.strftime('%Y%m%d-%H%M%S')}.jsonl"
        written = await self.export(path)
        self.notify(f"exported {written:,} rows to {path}", markup=False)

    async def export(self, path: Path) -> int:
        """Write every row the filter selects (up to ``EXPORT_CAP``) as JSON lines."""
        assert self.filter is not None and self.now is not None
        flt, now = self.filter, self.now
        written = 0
        before: tuple[datetime, uuid.UUID] | None = None
        with path.open("w", encoding="utf-8") as out:
            async with self.engine().connect() as conn:
                while written < EXPORT_CAP:
                    rows, before = await conn.run_sync(
                        partial(
                            audit_page,
                            flt=flt,
                            now=now,
                            limit=1000,
                            before=before,
                            redaction_key=self.console.redaction_key,
                        )
                    )
                    for row in rows:
                        out.write(audit_jsonl(row))
                    written += len(rows)
                    if before is None:
                        break
        return written


def _audit_cells(q: dict[str, Any], now: datetime) -> list[Any]:
    return [*request_cells(q, now), plain(q["url"])]
