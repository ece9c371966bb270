"""Cells for the console's tables: untrusted text stays plain, numbers read at a glance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from ..safe_text import printable

__all__ = [
    "STATUS_STYLES",
    "Ranked",
    "attempt_status",
    "bar",
    "duration",
    "elapsed",
    "http_status",
    "plain",
    "plain_line",
    "short_id",
    "size",
    "sparkline",
    "status",
    "when",
]

STATUS_STYLES = {
    "running": "bold cyan",
    "succeeded": "green",
    "failed": "bold red",
    "partial": "yellow",
    "completed": "green",
    "stale": "bold magenta",
    "idle": "dim",
}
_BLOCKS = " ▁▂▃▄▅▆▇█"


class Ranked(Text):
    """A cell that also carries its row's place in the list (tables sort on it)."""

    rank: int = 0


def plain_line(value: Any, limit: int = 300) -> str:
    """Untrusted text as one printable line: whitespace collapsed, control characters shown."""
    line = printable(" ".join(str(value).split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plain(value: Any, style: str = "") -> Text:
    """Untrusted text as a cell: never parsed as markup, one line."""
    if value is None:
        return Text("—", style="dim")
    return Text(plain_line(value, 10_000), style=style, no_wrap=True, overflow="ellipsis")


def short_id(value: Any) -> Text:
    return plain(str(value)[:8] if value else None)


def status(value: str | None) -> Text:
    return plain(value, STATUS_STYLES.get(value or "", ""))


def attempt_status(code: int | None, error_kind: str | None) -> Text:
    """An attempt's outcome: its HTTP status; the error kind (red) when it died before a
    response (connect, reset, timeout); ``…`` only while it is in flight."""
    if code is None and error_kind:
        return Text(error_kind, style="bold red")
    return http_status(code)


def elapsed(ms: float | None, error_kind: str | None) -> Text | str:
    """Milliseconds to the response; ``—`` for an attempt that never got one."""
    if ms is not None:
        return f"{ms:.0f}"
    return Text("—" if error_kind else "…", style="dim")


def http_status(code: int | None) -> Text:
    if code is None:
        return Text("…", style="dim")
    style = (
        "green"
        if code < 300
        else "bold magenta"
        if code == 429
        else "red"
        if code >= 500
        else "yellow"
    )
    return Text(str(code), style=style)


def when(at: datetime | None, now: datetime, *, date: bool = False) -> Text:
    """``14:03:07`` today, ``11-26 14:03`` on another day (or always, with ``date``), in the
    viewer's clock's zone."""
    if at is None:
        return Text("—", style="dim")
    local = at.astimezone(now.tzinfo)
    if date or local.date() != now.astimezone(now.tzinfo).date():
        return Text(local.strftime("%m-%d %H:%M"))
    return Text(local.strftime("%H:%M:%S"))


def duration(seconds: float | None) -> str:
    """``850ms``, ``42s``, ``3m05s``, ``2h10m``."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def size(n: int | None) -> str:
    """``512B``, ``3.4KB``, ``1.2MB``."""
    if n is None:
        return "—"
    if n < 1024:
        return f"{n}B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f}KB"
    return f"{n / 1024 / 1024:.1f}MB"


def bar(done: int | None, total: int | None, width: int = 10, style: str = "cyan") -> Text:
    """``████░░░░░░ 40%``; an unknown total shows only the count."""
    if not total:
        return Text(f"{done or 0:,}", style="dim")
    ratio = max(0.0, min(1.0, (done or 0) / total))
    filled = round(ratio * width)
    text = Text("█" * filled, style=style)
    text.append("░" * (width - filled), style="dim")
    text.append(f" {ratio * 100:3.0f}%")
    return text


def sparkline(values: list[int]) -> Text:
    """One block character per value, scaled to the largest."""
    top = max(values, default=0)
    if top == 0:
        return Text("·" * len(values), style="dim")
    chars = "".join(_BLOCKS[0 if v == 0 else max(1, round(v / top * 8))] for v in values)
    return Text(chars, style="magenta")
