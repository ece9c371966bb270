"""The four reports as tables over a selectable window; enter opens the requests behind a row."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.widgets import DataTable, Sparkline, Static, TabbedContent, TabPane

from ...reports import REPORTS, resolve_window, run_report
from ..components.key_bar import KeyBar
from ..format import duration, plain
from ..keymap import bindings
from ..messages import ReportsLoaded
from .base import DetailScreen

__all__ = ["WINDOWS", "ReportsScreen"]

WINDOWS = [("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30))]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _s(value: float | None) -> str:
    return "—" if value is None else duration(value)


class ReportsScreen(DetailScreen):
    """SLA, throttling, validation and audit completeness, as an SRE reads them."""

    HELP = (
        "The operational reports over a window (w cycles 24h / 7d / 30d). Enter on a row "
        "opens the audit browser on the requests behind it."
    )
    WIDGET_KEYS: ClassVar = [
        ("enter", "the requests behind the row"),
        ("tab", "next report"),
    ]
    BINDINGS: ClassVar = bindings("reports")

    def __init__(self, crumbs: list[str] | None = None) -> None:
        super().__init__(crumbs or ["Dashboard"], id="reports")
        self.window_index = 1
        self.data: dict[str, dict[str, Any]] = {}
        self.now: datetime | None = None
        self.row_queries: dict[str, list[str]] = {}

    @property
    def crumb(self) -> str:
        return "Reports"

    def compose(self) -> ComposeResult:
        yield self.breadcrumb()
        with TabbedContent(id="report-tabs"):
            with TabPane("SLA", id="tab-sla"):
                yield Static(id="head-sla", classes="report-head")
                yield DataTable(id="table-sla", cursor_type="row")
            with TabPane("Throttling", id="tab-throttling"):
                yield Static(id="head-throttling", classes="report-head")
                yield Sparkline([], id="spark-429")
                yield DataTable(id="table-throttling", cursor_type="row")
            with TabPane("Validation", id="tab-validation"):
                yield Static(id="head-validation", classes="report-head")
                yield DataTable(id="table-validation", cursor_type="row")
            with TabPane("Audit", id="tab-audit"):
                yield Static(id="head-audit", classes="report-head")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#table-sla", DataTable).add_columns(
            "template",
            "runs",
            "ok",
            "p50",
            "p95",
            "max",
            "SLA",
            "breaches",
            "freshness",
            "reconciled",
        )
        self.query_one("#table-throttling", DataTable).add_columns("hour", "endpoint", "429s")
        self.query_one("#table-validation", DataTable).add_columns(
            "endpoint", "2xx", "parse_ok", "", "drift"
        )
        self.load()

    def action_next_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.load()

    @work(group="reports", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        now = self.console.clock()
        since = WINDOWS[self.window_index][1]

        def read(conn: Any) -> dict[str, dict[str, Any]]:
            window = resolve_window(conn, now=now, since=since)
            return {name: run_report(conn, name, window) for name in REPORTS}

        async with self.engine().connect() as conn:
            data = await conn.run_sync(read)
        self.post_message(ReportsLoaded(now, data))

    def on_reports_loaded(self, message: ReportsLoaded) -> None:
        self.now, self.data = message.now, message.reports
        label = WINDOWS[self.window_index][0]
        self.show_crumbs(f"window {label} (w changes it)")
        self._sla(self.data["sla"])
        self._throttling(self.data["throttling"])
        self._validation(self.data["validation"])
        self._audit(self.data["audit"])

    def _fill(self, table_id: str, rows: list[tuple[list[Any], str]]) -> None:
        table = self.query_one(f"#{table_id}", DataTable)
        table.clear()
        self.row_queries[table_id] = []
        for cells, query in rows:
            table.add_row(*cells)
            self.row_queries[table_id].append(query)

    def _since(self) -> str:
        return f"since:{math.ceil(WINDOWS[self.window_index][1].total_seconds() / 60)}m"

    def _sla(self, data: dict[str, Any]) -> None:
        self.query_one("#head-sla", Static).update(
            Text(
                f"{data['breaches']} breach(es) over {len(data['templates'])} active templates",
                style="bold red" if data["breaches"] else "bold green",
            )
        )
        rows = []
        for t in data["templates"]:
            fresh = Text(_s(t["freshness_s"]), style="bold red" if t["freshness_breach"] else "")
            breaches = Text(str(t["breaches"]), style="bold red" if t["breaches"] else "dim")
            unhealthy = t["failing"] or t["never_succeeded"]
            ok = Text(_pct(t["success_rate"]), style="bold red" if unhealthy else "")
            reconciled = (
                f"{t['reconciled_runs']} / {t['reconciled_runs'] + len(t['unreconciled_runs'])}"
            )
            rows.append(
                (
                    [
                        plain(t["template"]),
                        str(t["runs"]),
                        ok,
                        _s(t["duration_p50_s"]),
                        _s(t["duration_p95_s"]),
                        _s(t["duration_max_s"]),
                        _s(t["sla_target_s"]),
                        breaches,
                        fresh,
                        reconciled,
                    ],
                    f"endpoint:{t['resource_path']} {self._since()}",
                )
            )
        self._fill("table-sla", rows)

    def _throttling(self, data: dict[str, Any]) -> None:
        ratio = "—" if data["ratio"] is None else f"{data['ratio']:.2%}"
        head = Text(
            f"{data['http_429']} × 429 of {data['requests']:,} requests ({ratio}); "
            f"waited {duration(data['wait_s'])}; trend ",
            style="bold",
        )
        head.append(
            data["trend"], style={"falling": "green", "rising": "bold red"}.get(data["trend"], "")
        )
        if data["suggestion"]:
            head.append(
                f"\nsuggestion: pace at {data['suggestion']['max_requests_per_second']} "
                "req/s — " + data["suggestion"]["why"],
                style="yellow",
            )
        self.query_one("#head-throttling", Static).update(head)
        self.query_one("#spark-429", Sparkline).data = [d["ratio"] or 0.0 for d in data["daily"]]
        assert self.now is not None
        rows = []
        for h in data["by_endpoint_hour"]:
            start = datetime.fromisoformat(h["hour"])
            since = max(1, math.ceil((self.now - start).total_seconds() / 60))
            until = max(0, math.floor((self.now - start - timedelta(hours=1)).total_seconds() / 60))
            query = f"status:429 endpoint:{h['endpoint']} since:{since}m"
            query += f" until:{until}m" if until else ""
            rows.append(
                (
                    [h["hour"][:13].replace("T", " ") + "h", plain(h["endpoint"]), str(h["count"])],
                    query,
                )
            )
        self._fill("table-throttling", rows)

    def _validation(self, data: dict[str, Any]) -> None:
        self.query_one("#head-validation", Static).update(
            Text(
                f"{data['endpoints_below_target']} expected endpoint(s) below "
                f"{data['target']:.0%} parse_ok; {len(data['drift'])} drift event(s)",
                style="bold red" if data["endpoints_below_target"] else "bold green",
            )
        )
        drift_by_path: dict[str, str] = {}
        for d in data["drift"]:
            drift_by_path.setdefault(
                d["resource_path"], ", ".join(f"{k}: {' '.join(v)}" for k, v in d["drift"].items())
            )
        rows = []
        for e in data["endpoints"]:
            flag = Text("BELOW TARGET", style="bold red") if e["below_target"] else Text("")
            rows.append(
                (
                    [
                        plain(e["endpoint"]),
                        f"{e['responses']:,}",
                        _pct(e["parse_ok_ratio"]),
                        flag,
                        plain(drift_by_path.get(e["endpoint"], "")),
                    ],
                    f"endpoint:{e['endpoint']} status:2xx {self._since()}",
                )
            )
        self._fill("table-validation", rows)

    def _audit(self, data: dict[str, Any]) -> None:
        text = Text(f"{data['correlation_pct']}% of requests correlated\n\n", style="bold")
        text.append(
            f"requests {data['requests']:,}   responses {data['responses']:,}   "
            f"without a response {data['requests_without_response']:,}\n"
        )
        for reason, count in data["explained"].items():
            text.append(f"  {reason.replace('_', ' ')}: {count:,}\n")
        text.append(
            f"  unexplained: {data['unexplained']:,}\n",
            style="bold red" if data["unexplained"] else "",
        )
        text.append(
            f"responses without a run: {data['responses_without_run']:,} (must be 0)\n",
            style="bold red" if data["responses_without_run"] else "",
        )
        text.append(f"runs without requests: {len(data['runs_without_requests']):,}")
        self.query_one("#head-audit", Static).update(text)

    @on(DataTable.RowSelected)
    def _open(self, event: DataTable.RowSelected) -> None:
        queries = self.row_queries.get(event.data_table.id or "", [])
        if 0 <= event.cursor_row < len(queries):
            self.console.action_audit(queries[event.cursor_row], crumbs=[*self.crumbs, self.crumb])
