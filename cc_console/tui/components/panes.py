"""The five dashboard panes: a titled frame around a live table, and each pane's rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget

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
from .gauges import ScopeGauges
from .live_table import Column, LiveTable, Row

__all__ = [
    "PANES",
    "Pane",
    "PaneSpec",
    "cursor_rows",
    "error_rows",
    "request_cells",
    "request_key",
    "request_ref",
    "request_rows",
    "run_rows",
]


class PaneSpec:
    """What a pane is called, what it is for, its columns and the binding ids it answers."""

    def __init__(
        self,
        number: int,
        key: str,
        title: str,
        purpose: str,
        columns: Sequence[Column],
        keys: Sequence[str] = (),
    ) -> None:
        self.number, self.key, self.title, self.purpose = number, key, title, purpose
        self.columns, self.keys = list(columns), list(keys)


# keep: the lower, the sooner a column goes when the width runs out (80 columns drops some)
PANES = [
    PaneSpec(
        1,
        "runs",
        "Runs",
        "Sync runs, newest first: status, progress against the server's count, 429s and "
        "errors. Enter opens a run's timeline.",
        [
            Column("id", "run", keep=10),
            Column("template", "template", keep=8, flex=True, min_width=12),
            Column("trigger", "trigger", keep=1),
            Column("mode", "mode", keep=0),
            Column("status", "status", keep=9),
            Column("started", "started", keep=4),
            Column("took", "took", keep=3),
            Column("pages", "pages", keep=2),
            Column("records", "landed / count", keep=7),
            Column("progress", "progress", keep=5),
            Column("429", "429", keep=6),
            Column("err", "err", keep=6),
        ],
        ["start_sync", "resume", "retry", "cancel", "filter"],
    ),
    PaneSpec(
        2,
        "requests",
        "Live requests",
        "Every request attempt as the engine writes it, newest first. F follows the newest; "
        "space pauses the pane (the gauges keep moving).",
        [
            Column("time", "time", keep=10),
            Column("method", "verb", keep=3),
            Column("endpoint", "endpoint", keep=8, flex=True, min_width=12),
            Column("status", "code", keep=9),
            Column("ms", "ms", keep=6),
            Column("size", "size", keep=4),
            Column("attempt", "try", keep=5),
            Column("run", "run", keep=2),
        ],
        ["follow", "pause", "filter"],
    ),
    PaneSpec(
        3,
        "limits",
        "Rate limits",
        "One gauge per scope: remaining of the limit, reset countdown, 429s per minute over "
        "the last 10 minutes and the current wait.",
        [],
    ),
    PaneSpec(
        4,
        "cursors",
        "Cursors",
        "Where each resource + filter resumes: next $skip against the server's count, last "
        "sync, owning run.",
        [
            Column("resource", "resource", keep=10),
            Column("progress", "next_skip / count", keep=8),
            Column("filter", "filter", keep=6, flex=True, min_width=10),
            Column("last", "last sync", keep=5),
            Column("status", "status", keep=9),
            Column("run", "run", keep=2),
        ],
        ["filter"],
    ),
    PaneSpec(
        5,
        "errors",
        "Errors",
        "Typed error events, newest first (kind, retryable, status, endpoint, run). Enter "
        "opens the failed request.",
        [
            Column("time", "time", keep=10),
            Column("kind", "kind", keep=9),
            Column("retry", "retry", keep=3),
            Column("status", "code", keep=6),
            Column("endpoint", "endpoint", keep=5),
            Column("run", "run", keep=2),
            Column("message", "message", keep=8, flex=True, min_width=16),
        ],
        ["filter"],
    ),
]


class Pane(Vertical, can_focus=False):
    """A bordered frame with a number, a title and a 'shown of total' subtitle."""

    def __init__(self, spec: PaneSpec) -> None:
        super().__init__(id=f"pane-{spec.key}", classes="pane")
        self.spec = spec
        self.border_title = f"{spec.number} {spec.title}"
        self.table = LiveTable(spec.columns, id=f"table-{spec.key}")
        self.gauges = ScopeGauges(id="gauges") if not spec.columns else None

    def compose(self) -> ComposeResult:
        yield self.gauges or self.table

    @property
    def focus_target(self) -> Widget:
        return self.gauges or self.table

    def count(self, total: int, exact: bool = True, note: str = "") -> None:
        """Say how many rows are shown of how many exist."""
        shown = self.table.shown
        more = "" if exact else "+"
        text = f"{shown:,} of {total:,}{more}" if total > shown or not exact else f"{total:,}"
        title = f"{self.spec.number} {self.spec.title}"
        if self.table.filter_text:  # a filtered pane says so where you look first
            title += f" /{self.table.filter_text}/"
        if self.border_title != title:
            self.border_title = title
        self.border_subtitle = f"{note} {text}".strip()


def _lazy(
    key: str,
    record: dict[str, Any],
    now: datetime,
    volatile: bool,
    build: Callable[[dict[str, Any], datetime], list[Any]],
) -> Row:
    """A row whose cells are built only when its data (or, if ``volatile``, the clock) moved."""
    signature = (tuple(record.values()), now if volatile else now.date())
    return (key, signature, lambda: build(record, now))


def run_rows(runs: list[dict[str, Any]], now: datetime) -> list[Row]:
    return [_lazy(str(r["id"]), r, now, r["status"] == "running", _run_cells) for r in runs]


def _run_cells(r: dict[str, Any], now: datetime) -> list[Any]:
    end = r["finished_at"] or now
    running = r["status"] == "running"
    count = "?" if r["odata_count"] is None else f"{r['odata_count']:,}"
    return [
        short_id(r["id"]),
        plain(r["template"]),
        plain(r["trigger"]),
        plain(r.get("sync_mode"), "dim"),
        status("stale" if r.get("stale") else r["status"]),  # running, but its engine is gone
        when(r["started_at"], now),
        duration((end - r["started_at"]).total_seconds()),
        str(r["pages"]),
        f"{r['landed_by_chain']:,} / {count}",
        bar(r["landed_by_chain"], r["odata_count"], style="cyan" if running else "green")
        if running or r["odata_count"]
        else Text(""),
        Text(str(r["http_429_count"]), style="magenta" if r["http_429_count"] else "dim"),
        Text(str(r["error_count"]), style="red" if r["error_count"] else "dim"),
    ]


def request_key(q: dict[str, Any]) -> str:
    """A request attempt's row key: its id and partition key (sent_at)."""
    return f"{q['id']}|{q['sent_at'].isoformat()}"


def request_ref(key: str) -> tuple[uuid.UUID, datetime]:
    """The (id, sent_at) a request row's key stands for."""
    request_id, _, sent_at = key.partition("|")
    return uuid.UUID(request_id), datetime.fromisoformat(sent_at)


def request_rows(requests: list[dict[str, Any]], now: datetime) -> list[Row]:
    return [_lazy(request_key(q), q, now, False, request_cells) for q in requests]


def request_cells(q: dict[str, Any], now: datetime) -> list[Any]:
    """The cells of one request attempt (also the audit browser's, before its URL)."""
    return [
        when(q["sent_at"], now),
        plain(q["method"]),
        plain(q["endpoint_path"]),
        attempt_status(q["status_code"], q.get("error_kind")),
        elapsed(q["elapsed_ms"], q.get("error_kind")),
        size(q["size_bytes"]),
        str(q["attempt_no"]),
        short_id(q["run_id"]),
    ]


def cursor_rows(cursors: list[dict[str, Any]], now: datetime) -> list[Row]:
    return [_lazy(str(c["id"]), c, now, False, _cursor_cells) for c in cursors]


def _cursor_cells(c: dict[str, Any], now: datetime) -> list[Any]:
    return [
        plain(c["resource_path"]),
        bar(
            c["next_skip"],
            c["odata_count"],
            style="green" if c["status"] == "completed" else "cyan",
        ),
        plain(_cursor_filter(c)),
        when(c["last_sync_at"], now),
        status(c["status"]),
        short_id(c["last_run_id"]),
    ]


def _cursor_filter(c: dict[str, Any]) -> str:
    """The cursor's filter, and for an incremental one where its next run starts."""
    shown = c["filter_text"] or "(all)"
    mark = c.get("watermark")
    if mark:
        shown += f" · {mark['field']} ≥ {mark['w']}"
    return shown


def error_rows(errors: list[dict[str, Any]], now: datetime) -> list[Row]:
    return [_lazy(str(e["id"]), e, now, False, _error_cells) for e in errors]


def _error_cells(e: dict[str, Any], now: datetime) -> list[Any]:
    return [
        when(e["occurred_at"], now),
        plain(e["kind"], "red" if not e["retryable"] else ""),
        Text("yes" if e["retryable"] else "no", style="dim" if e["retryable"] else "bold"),
        http_status(e["status_code"]) if e["status_code"] else Text("—", style="dim"),
        plain(e["endpoint_path"]),
        short_id(e["run_id"]),
        plain(e["message"]),
    ]
