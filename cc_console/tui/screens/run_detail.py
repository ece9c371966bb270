"""One run: its summary against the SLA, the cursor, the request timeline and its errors."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ...settings import load_settings
from ...store.details import load_run
from ...store.jobs import run_outcomes
from ...store.operator_actions import run_actions
from ...store.runs import reconciled as runs_reconciled
from ..components.key_bar import KeyBar
from ..components.live_table import Column, LiveTable, Row
from ..components.panes import request_key, request_ref
from ..format import (
    attempt_status,
    bar,
    duration,
    elapsed,
    http_status,
    plain,
    short_id,
    size,
    status,
    when,
)
from ..messages import DataChanged, RunLoaded
from .base import DetailScreen

__all__ = ["RunDetailScreen"]


class RunDetailScreen(DetailScreen):
    """Timeline of a run's requests (attempts, retries, waits) and what went wrong."""

    HELP = "One run: summary and SLA, cursor progress, every request attempt, its errors."
    WIDGET_KEYS: ClassVar = [("enter", "open the request under the cursor")]

    def __init__(self, run_id: uuid.UUID, crumbs: list[str]) -> None:
        super().__init__(crumbs)
        self.run_id = run_id
        self.run: dict[str, Any] | None = None
        # read once: a running run's detail reloads on every page it lands
        self.max_auto_resumes = load_settings().worker_max_auto_resumes
        self.timeline = LiveTable(TIMELINE_COLUMNS, id="timeline")
        self.errors = LiveTable(ERROR_COLUMNS, id="run-errors")

    @property
    def crumb(self) -> str:
        return f"Run {str(self.run_id)[:8]}"

    def compose(self) -> ComposeResult:
        yield self.breadcrumb()
        yield Static(id="run-summary")
        yield Static(Text("Requests", style="bold"), classes="section")
        yield self.timeline
        yield Static(Text("Errors", style="bold"), classes="section")
        yield self.errors
        yield KeyBar()

    def on_mount(self) -> None:
        self.show_crumbs()
        self.load()
        self.timeline.focus()

    def selected_run(self) -> dict[str, Any] | None:
        return self.run

    def on_data_changed(self, message: DataChanged) -> None:
        if self.run is None or self.run["status"] == "running":
            self.load()

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        limit = self.max_auto_resumes
        async with self.engine().connect() as conn:
            run = await load_run(conn, self.run_id, self.console.redaction_key)
            if run is not None:
                outcomes = await conn.run_sync(
                    lambda sync: run_outcomes(sync, [self.run_id], max_auto_resumes=limit)
                )
                run["after"] = outcomes.get(self.run_id)
                ids = (self.run_id, run.get("action_id"), run.get("job_id"))
                run["actions"] = await conn.run_sync(lambda sync: run_actions(sync, *ids))
        self.post_message(RunLoaded(run))

    def on_run_loaded(self, message: RunLoaded) -> None:
        run = message.run
        summary = self.query_one("#run-summary", Static)
        if run is None:
            summary.update(Text("this run no longer exists", style="bold red"))
            return
        self.run = run
        now = self.console.clock()
        summary.update(_summary(run, now))
        self.timeline.sync(timeline_rows(run["timeline"], now))
        self.errors.sync(
            [
                (str(e["id"]), tuple(e.values()), partial(_error_cells, e, now))
                for e in run["errors"]
            ]
        )
        self.show_crumbs(f"{run['template']} · {run['status']}")

    @on(DataTable.RowSelected, "#timeline")
    def _open(self, event: DataTable.RowSelected) -> None:
        from .request_detail import RequestDetailScreen

        keys = [request_ref(key) for key in self.timeline.keys]
        index = keys.index(request_ref(event.row_key.value or ""))
        self.app.push_screen(RequestDetailScreen(keys, index, crumbs=[*self.crumbs, self.crumb]))


TIMELINE_COLUMNS = [
    Column("sent", "sent", keep=10),
    Column("n", "#", keep=9),
    Column("attempt", "attempt", keep=4),
    Column("status", "status", keep=8),
    Column("ms", "ms", keep=6),
    Column("size", "size", keep=3),
    Column("gap", "gap", keep=5),
    Column("errors", "errors", keep=7, flex=True),
]
ERROR_COLUMNS = [
    Column("time", "time", keep=10),
    Column("kind", "kind", keep=9),
    Column("retry", "retry", keep=3),
    Column("status", "status", keep=5),
    Column("message", "message", keep=8, flex=True, min_width=16),
]


def timeline_rows(timeline: list[dict[str, Any]], now: datetime) -> list[Row]:
    """One row per attempt, oldest first; ``gap`` is the wait since the previous answer."""
    rows: list[Row] = []
    previous: datetime | None = None
    for n, q in enumerate(timeline, 1):
        gap = None if previous is None else (q["sent_at"] - previous).total_seconds()
        previous = q["received_at"] or q["sent_at"]
        rows.append(
            (request_key(q), (n, gap, *q.values()), partial(_attempt_cells, q, n, gap, now))
        )
    return rows


def _attempt_cells(q: dict[str, Any], n: int, gap: float | None, now: datetime) -> list[Any]:
    kinds = q["error_kinds"]
    return [
        when(q["sent_at"], now),
        str(n),
        str(q["attempt_no"]),
        attempt_status(q["status_code"], kinds.split(",")[0] if kinds else None),
        elapsed(q["elapsed_ms"], kinds),
        size(q["size_bytes"]),
        "" if gap is None else duration(gap),
        plain(kinds or ""),
    ]


def _error_cells(e: dict[str, Any], now: datetime) -> list[Any]:
    return [
        when(e["occurred_at"], now),
        plain(e["kind"]),
        "yes" if e["retryable"] else "no",
        http_status(e["status_code"]) if e["status_code"] else "—",
        plain(e["message"]),
    ]


def _summary(run: dict[str, Any], now: Any) -> Group:
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column()
    end = run["finished_at"] or now
    took = (end - run["started_at"]).total_seconds()
    sla = run["sla_target_s"]
    sla_text = Text("no SLA target", style="dim")
    if sla:
        within = took <= sla
        sla_text = Text(
            f"SLA {duration(sla)}: {'met' if within else 'BREACHED'}",
            style="green" if within else "bold red",
        )
    count = run["odata_count"]
    reconciled = Text("no count from the server", style="dim")
    ok = runs_reconciled(count, run["chain_records_landed"], run["records_landed"])
    if ok is not None:
        landed = run["chain_records_landed"]
        landed = run["records_landed"] if landed is None else landed
        reconciled = Text(
            f"{landed:,} landed of {count:,} " + ("reconciled" if ok else "NOT reconciled"),
            style="green" if ok else "yellow",
        )
    if run["records_rejected"]:
        reconciled.append(f" · {run['records_rejected']:,} rejected (no key)", style="bold red")
    cursor = run["cursor"]
    grid.add_row(
        Text("status", style="dim"),
        status(run["status"]),
        Text("template", style="dim"),
        plain(f"{run['template']} ({run['config']})"),
    )
    grid.add_row(
        Text("trigger", style="dim"),
        plain(run["trigger"]),
        Text("parent", style="dim"),
        short_id(run["parent_run_id"]),
    )
    grid.add_row(
        Text("started", style="dim"),
        when(run["started_at"], now, date=True),
        Text("duration", style="dim"),
        Text(f"{duration(took)}  ").append_text(sla_text),
    )
    grid.add_row(
        Text("records", style="dim"),
        reconciled,
        Text("pages / requests", style="dim"),
        Text(f"{run['pages']} / {run['requests']} ({run['retries']} retries)"),
    )
    grid.add_row(
        Text("429s", style="dim"),
        Text(str(run["http_429_count"])),
        Text("waited", style="dim"),
        Text(duration(run["wait_s"])),
    )
    if cursor is not None:
        grid.add_row(
            Text("cursor", style="dim"),
            bar(cursor["next_skip"], cursor["odata_count"]),
            Text("next $skip", style="dim"),
            Text(f"{cursor['next_skip']:,} ({cursor['status']})"),
        )
    if run.get("keyset_from") is not None:  # an incremental template: keyset paging
        grid.add_row(
            Text("mode", style="dim"),
            Text(str(run["sync_mode"])),
            Text("asked for", style="dim"),
            plain(run["keyset_from"]),
        )
    if run.get("legacy_writes") is not None:  # the config dual-writes to the legacy store
        lost = run["legacy_write_failures"] or 0
        grid.add_row(
            Text("dual-write", style="dim"),
            Text(f"{run['legacy_writes']:,} mirrored"),
            Text("not written", style="dim"),
            Text(f"{lost:,}", style="bold red" if lost else ""),
        )
    # the long ones span the width (in the grid's second column they were cut at 80 columns)
    lines: list[Text] = []
    if run["message"]:
        lines.append(Text("message  ", style="dim").append_text(plain(run["message"])))
    if run.get("after"):  # what becomes of a failed or partial run
        attention = run["after"].startswith("needs attention")
        after = Text(run["after"], style="bold red" if attention else "bold")
        lines.append(Text("after    ", style="dim").append_text(after))
    for action in run.get("actions") or []:  # who asked for it, and what was asked of it
        asked = Text("asked    ", style="dim")
        asked.append(f"{action['action']}", style="bold")
        who = f"{action['os_user']} ({action['db_role']}@{action['host']})"
        asked.append(" by ")
        asked.append_text(plain(f"{who} via {action['source']}"))
        asked.append(" at ")
        asked.append_text(when(action["at"], now, date=True))
        lines.append(asked)
    sealed = _seal_line(run)
    if sealed is not None:
        lines.append(sealed)
    for line in lines:
        line.no_wrap, line.overflow = False, "fold"
    return Group(grid, *lines)


def _seal_line(run: dict[str, Any]) -> Text | None:
    """The run's audit seal (``audit verify`` proves it), or a warning if it ended without."""
    seal = run.get("seal") or {}
    if seal.get("config_seq") is not None:
        line = Text("sealed   ", style="dim")
        line.append(f"#{seal['config_seq']}", style="bold")
        line.append(
            f" of its config · {seal['request_rows']:,} requests, {seal['response_rows']:,}"
            f" responses · key {seal['key_id']}"
            + (" · by the stale sweep" if seal["sealed_by"] == "sweep" else "")
        )
        return line
    if seal.get("chained") and run["status"] != "running":
        line = Text("sealed   ", style="dim")
        line.append(
            "not yet: the seal key was not at hand (db maintain seals it)", style="bold red"
        )
        return line
    return None
