"""One request attempt: request, response, validation and timing, with [ / ] to step."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from ...store.details import as_curl, load_request
from ..components.json_tree import JsonTree
from ..components.key_bar import KeyBar
from ..format import duration, http_status, plain, size
from ..keymap import bindings
from ..messages import RequestLoaded
from .base import DetailScreen

__all__ = ["RequestDetailScreen"]

PRETTY_LIMIT = 64 * 1024  # larger bodies open as a collapsible tree


class RequestDetailScreen(DetailScreen):
    """The audit record of one attempt, exactly as stored (headers already masked)."""

    HELP = "One request attempt and its response as stored: masked headers, body, validation."
    WIDGET_KEYS: ClassVar = [("tab", "next tab (request, response, validation, timing)")]
    BINDINGS: ClassVar = bindings("request_detail")

    def __init__(
        self, keys: list[tuple[uuid.UUID, datetime]], index: int, crumbs: list[str]
    ) -> None:
        super().__init__(crumbs)
        self.keys, self.index = keys, index
        self.request: dict[str, Any] | None = None

    @property
    def crumb(self) -> str:
        return f"Request {self.index + 1} of {len(self.keys)}"

    def compose(self) -> ComposeResult:
        yield self.breadcrumb()
        with TabbedContent(id="request-tabs"):
            for name in ("Request", "Response", "Validation", "Timing"):
                with (
                    TabPane(name, id=f"tab-{name.lower()}"),
                    VerticalScroll(id=f"scroll-{name.lower()}"),
                ):
                    yield Static(id=f"body-{name.lower()}")
        yield KeyBar()

    def on_mount(self) -> None:
        self.load()

    def action_step(self, step: int) -> None:
        target = self.index + step
        if 0 <= target < len(self.keys):
            self.index = target
            self.load()
        else:
            self.notify("no more requests this way")

    def action_copy_curl(self) -> None:
        if self.request is not None:
            self.app.copy_to_clipboard(as_curl(self.request))
            self.notify("copied as curl (it reads the key from the secret reference when run)")

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        async with self.engine().connect() as conn:
            request = await load_request(conn, self.keys[self.index], self.console.redaction_key)
        self.post_message(RequestLoaded(request))

    async def on_request_loaded(self, message: RequestLoaded) -> None:
        q = self.request = message.request
        self.show_crumbs()
        if q is None:
            self.query_one("#body-request", Static).update(Text("this request is gone (retention)"))
            return
        self.show_crumbs(f"{q['method']} {q['endpoint_path']} · attempt {q['attempt_no']}")
        self.query_one("#body-request", Static).update(_request(q))
        self.query_one("#body-validation", Static).update(_validation(q))
        self.query_one("#body-timing", Static).update(_timing(q))
        await self._response(q)

    async def _response(self, q: dict[str, Any]) -> None:
        scroll = self.query_one("#scroll-response", VerticalScroll)
        for tree in scroll.query(JsonTree):
            await tree.remove()
        static = self.query_one("#body-response", Static)
        head = _response_head(q)
        body = q["response_body"]
        if q.get("redacted_paths"):
            head.append("redacted for auditors: ", style="yellow")
            head.append(", ".join(q["redacted_paths"]) + "\n", style="yellow")
        if body is not None and (q["size_bytes"] or 0) > PRETTY_LIMIT:
            static.update(head)
            await scroll.mount(JsonTree(body, id="json-tree"))
            return
        if body is not None:
            head.append("\n")
            head.append(json.dumps(body, indent=2, ensure_ascii=False))
        elif q["response_text"] is not None:
            head.append("\nbody (not JSON, kept as text):\n", style="yellow")
            head.append(q["response_text"])
        static.update(head)


def _kv(rows: list[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for key, value in rows:
        grid.add_row(key, value if isinstance(value, Text) else Text(str(value)))
    return grid


def _headers(headers: dict[str, Any] | None) -> Text:
    text = Text()
    for name, value in sorted((headers or {}).items()):
        text.append(f"{name}: ", style="bold")
        text.append(f"{value}\n")
    return text if text.plain else Text("(none)", style="dim")


def _request(q: dict[str, Any]) -> Table:
    return _kv(
        [
            ("method", q["method"]),
            ("url", Text(q["url"])),
            ("endpoint", q["endpoint_path"]),
            ("query params", Text(json.dumps(q["query_params"], indent=2, ensure_ascii=False))),
            ("headers (masked)", _headers(q["headers"])),
            ("key fingerprint", q["key_fingerprint"] or "—"),
            ("attempt", q["attempt_no"]),
            ("run", str(q["run_id"] or "—")),
            ("request id", str(q["id"])),
        ]
    )


def _response_head(q: dict[str, Any]) -> Text:
    if q["status_code"] is None:
        return Text(
            "no response stored: the attempt failed before one arrived (see Validation "
            "for its errors) or it is still in flight",
            style="yellow",
        )
    text = Text("status ", style="dim")
    text.append_text(http_status(q["status_code"]))
    text.append(
        f"   {size(q['size_bytes'])}   {q['content_type'] or 'no content type'}\n", style="dim"
    )
    text.append_text(_headers(q["response_headers"]))
    return text


def _validation(q: dict[str, Any]) -> Table:
    v = q["validation"] or {}
    rows: list[tuple[str, Any]] = [
        ("parse_ok", Text(str(q["parse_ok"]), style="green" if q["parse_ok"] else "bold red")),
        ("odata count", q["odata_count"] if q["odata_count"] is not None else "—"),
        ("next link", "yes" if q["has_next_link"] else "no"),
    ]
    if v:
        rows += [
            ("schema", f"{v['schema_name']} {v['schema_version']}"),
            ("records", f"{v['records_checked']:,} checked, {v['records_invalid']:,} invalid"),
            ("drift", Text(json.dumps(v["drift"], ensure_ascii=False) if v["drift"] else "none")),
            (
                "errors sample",
                Text(
                    json.dumps(v["errors_sample"], indent=2, ensure_ascii=False)
                    if v["errors_sample"]
                    else "none"
                ),
            ),
            ("shape", v["shape_fingerprint"] or "—"),
        ]
    if q["validation_errors"]:
        rows.append(("response errors", Text(json.dumps(q["validation_errors"], indent=2))))
    for e in q["errors"]:
        rows.append(
            (
                f"error {e['kind']}",
                plain(f"{'retryable' if e['retryable'] else 'final'}: {e['message']}"),
            )
        )
    return _kv(rows)


def _timing(q: dict[str, Any]) -> Table:
    rows: list[tuple[str, Any]] = [("sent", q["sent_at"].isoformat())]
    if q["received_at"] is not None:
        rows += [
            ("received", q["received_at"].isoformat()),
            ("elapsed", f"{q['elapsed_ms']:.1f} ms"),
            ("end to end", duration((q["received_at"] - q["sent_at"]).total_seconds())),
            ("size", size(q["size_bytes"])),
        ]
    return _kv(rows)
