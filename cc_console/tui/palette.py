"""Command palette (ctrl+p or :): actions, and entities — runs by id, templates, endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..engine.control import active_templates
from ..store.templates import ActiveTemplate

if TYPE_CHECKING:
    from .app import ConsoleApp

__all__ = ["ConsoleCommands"]


class ConsoleCommands(Provider):
    """Everything the console can do or open, searchable."""

    @property
    def console(self) -> ConsoleApp:
        return cast("ConsoleApp", self.app)

    async def startup(self) -> None:
        self.templates: list[ActiveTemplate] = []
        engine = self.console.aengine
        try:
            assert engine is not None
            self.templates = await active_templates(engine)
        except Exception:  # the palette still offers actions when the database is away
            self.templates = []

    def _entries(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = self.console
        entries: list[tuple[str, Callable[[], Any], str]] = [
            ("audit", partial(app.action_audit), "open the audit browser"),
            ("reports", app.action_reports, "SLA, throttling, validation and audit reports"),
            ("workers", app.action_workers, "the worker pool: workers, jobs, next due"),
            ("actions", app.action_actions, "who did what: the operator action log"),
            ("sync: start…", app.action_start_sync, "pick an active template to sync"),
            ("help", app.action_help, "help for the focused pane"),
        ]
        for template in self.templates:
            if not app.read_only:
                entries.append(
                    (
                        f"sync {template.name}",
                        partial(app.start_sync_of, template),
                        f"start a sync of {template.resource_path}",
                    )
                )
        data = app.dashboard_screen.data
        if data is not None:
            for run in data.runs.rows[:200]:
                entries.append(
                    (
                        f"run {str(run['id'])[:8]} {run['template']} {run['status']}",
                        partial(self._open_run, run["id"]),
                        "open the run's timeline",
                    )
                )
            endpoints = sorted({q["endpoint_path"] for q in data.requests.rows})
            for endpoint in endpoints:
                entries.append(
                    (
                        f"audit endpoint {endpoint}",
                        partial(app.action_audit, f"endpoint:{endpoint}"),
                        "the audit browser filtered to this endpoint",
                    )
                )
        return entries

    def _open_run(self, run_id: Any) -> None:
        # built on choice: the entries are rebuilt on every keystroke of a search
        from .screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(run_id, crumbs=["Dashboard"]))

    async def discover(self) -> Hits:
        for name, callback, help_text in self._entries()[:4]:
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for name, callback, help_text in self._entries():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
