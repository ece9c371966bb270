"""The worker pool as an SRE watches it: workers alive with their heartbeat, jobs by state,
and when each scheduled template is next due. Read every two seconds; it writes nothing."""

from __future__ import annotations

from functools import partial
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from ...settings import load_settings
from ...store.jobs import job_counts, list_workers, schedule_view
from ..components.key_bar import KeyBar
from ..components.live_table import Column, LiveTable
from ..format import duration, plain, status
from ..messages import WorkersLoaded
from .base import DetailScreen

__all__ = ["WorkersScreen"]

JOB_STATES = ("queued", "scheduled", "doing", "failed", "succeeded", "cancelled", "aborted")
REFRESH_S = 2.0


class WorkersScreen(DetailScreen):
    """Workers, jobs and the schedule (`cc-console worker` runs them)."""

    HELP = (
        "The worker pool: each worker process registers two procrastinate workers (schedule"
        " and sync) with a heartbeat; a worker silent for three beats is dead and its jobs are"
        " failed so their runs resume elsewhere. Jobs by state, and when each scheduled"
        " template is next due. Start workers with `cc-console worker`."
    )

    def __init__(self, crumbs: list[str] | None = None) -> None:
        super().__init__(crumbs or ["Dashboard"], id="workers")
        self.data: dict[str, Any] = {}
        self.heartbeat_s = load_settings().worker_heartbeat_s

    @property
    def crumb(self) -> str:
        return "Workers"

    def compose(self) -> ComposeResult:
        yield self.breadcrumb()
        yield Static(id="workers-head", classes="report-head")
        yield LiveTable(WORKER_COLUMNS, id="table-workers")
        yield Static(id="jobs-head", classes="report-head")
        yield LiveTable(SCHEDULE_COLUMNS, id="table-schedule")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(REFRESH_S, self.load)

    @work(group="workers", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        async with self.engine().connect() as conn:
            data = {
                "workers": await list_workers(conn),
                "jobs": await job_counts(conn),
                "schedule": await schedule_view(conn),
            }
        self.post_message(WorkersLoaded(data))

    def on_workers_loaded(self, message: WorkersLoaded) -> None:
        self.data = message.data
        self.show_crumbs(f"refreshed every {REFRESH_S:g} s")
        beat = self.heartbeat_s
        workers = self.data["workers"]
        alive = [w for w in workers if w["heartbeat_age_s"] <= 3 * beat]
        head = Text(f"{len(alive)} worker(s) alive", style="bold green" if alive else "bold")
        if len(workers) > len(alive):
            head.append(f", {len(workers) - len(alive)} silent", style="bold red")
        if not workers:
            head.append(" — start one with `cc-console worker`", style="dim")
        self.query_one("#workers-head", Static).update(head)
        self.query_one("#table-workers", LiveTable).sync(
            [(str(w["id"]), tuple(w.values()), partial(_worker_cells, w, beat)) for w in workers]
        )
        counts = self.data["jobs"]
        jobs = Text("jobs  ", style="bold")
        for state in JOB_STATES:
            count = counts.get(state, 0)
            style = "bold red" if state == "failed" and count else ("" if count else "dim")
            jobs.append(f"{state} {count}   ", style=style)
        self.query_one("#jobs-head", Static).update(jobs)
        self.query_one("#table-schedule", LiveTable).sync(
            [
                (str(t["id"]), tuple(t.values()), partial(_schedule_cells, t))
                for t in self.data["schedule"]
            ]
        )


WORKER_COLUMNS = [
    Column("worker", "worker", keep=10),
    Column("heartbeat", "last heartbeat", keep=8),
    Column("ago", "ago", keep=9),
    Column("running", "running", keep=7),
]
SCHEDULE_COLUMNS = [
    Column("template", "template", keep=10, flex=True, min_width=12),
    Column("every", "every", keep=5),
    Column("last", "last run", keep=4),
    Column("status", "status", keep=8),
    Column("due", "next due", keep=6),
    Column("in", "in", keep=9),
]


def _worker_cells(w: dict[str, Any], beat: float) -> list[Any]:
    age = float(w["heartbeat_age_s"])
    who = str(w["id"])
    if w.get("name"):  # the process it is part of (`cc-console worker --name`)
        who = f"{w['name']} {w['role']} ({w['host']}:{w['pid']}, #{w['id']})"
    return [
        plain(who),
        w["last_heartbeat"].astimezone().strftime("%H:%M:%S"),
        Text(duration(age), style="bold red" if age > 3 * beat else ""),
        str(w["running"]),
    ]


def _schedule_cells(t: dict[str, Any]) -> list[Any]:
    last = t["last_started_at"]
    return [
        plain(t["template"]),
        duration(t["schedule_interval_s"]),
        "never" if last is None else last.astimezone().strftime("%m-%d %H:%M:%S"),
        status(t["last_status"]),
        t["next_due_at"].astimezone().strftime("%H:%M:%S"),
        _due(t["last_status"], t["job_pending"], float(t["due_in_s"])),
    ]


def _due(last_status: str | None, job_pending: bool, due_in_s: float) -> str:
    if last_status == "running":
        return "running"
    if job_pending:
        return "queued"
    return "due" if due_in_s <= 0 else duration(due_in_s)
