"""Every key the console binds, in one registry; a TOML file may remap any binding id.

Screens take their ``BINDINGS`` from :func:`bindings`; the key bar and the help screen read
the screen's active bindings, so a remapped key shows wherever the key is named.

``keymap.toml`` (in the data dir, or ``CC_KEYMAP_FILE``)::

    start_sync = "S"
    audit = "ctrl+a"
    copy_curl = "ctrl+y"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from textual.binding import Binding

from ..errors import UsageError

__all__ = ["ACTIONS", "Action", "SCOPES", "action", "bindings", "load_keymap"]


@dataclass(frozen=True)
class Action:
    """One thing a key does: its id (the name keymap.toml uses), the screen it works on,
    its default keys, the action it runs, its key-bar label and what help says it does."""

    id: str
    scope: str
    keys: str
    action: str
    label: str
    description: str
    show: bool = True
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action,
            self.label,
            show=self.show,
            id=self.id,
            priority=self.priority,
        )


_PANE = "show a pane: 1 runs · 2 live requests · 3 rate limits · 4 cursors · 5 errors"

ACTIONS: tuple[Action, ...] = (
    # everywhere (the app's own bindings)
    Action(
        "quit",
        "app",
        "q,ctrl+q",
        "request_quit",
        "Quit",
        "quit (asks first when runs are active)",
        priority=True,
    ),
    Action(
        "help",
        "app",
        "question_mark,f1",
        "help",
        "Help",
        "help for this screen or the focused pane",
    ),
    Action(
        "palette",
        "app",
        "ctrl+p,colon",
        "command_palette",
        "Palette",
        "command palette: actions, runs, templates, endpoints",
        show=False,
        priority=True,
    ),
    Action("start_sync", "app", "s", "start_sync", "Sync", "start a sync: pick an active template"),
    Action("resume", "app", "r", "resume", "Resume", "resume the selected failed/partial run"),
    Action("retry", "app", "R", "retry", "Retry", "retry the selected run from the start"),
    Action("cancel", "app", "c", "cancel_run", "Cancel", "cancel the selected running run"),
    Action("audit", "app", "a", "audit", "Audit", "open the audit browser"),
    Action(
        "reports", "app", "p", "reports", "Reports", "SLA, throttling, validation and audit reports"
    ),
    # the footer is full at 80 columns: the palette and help name it
    Action(
        "workers",
        "app",
        "W",
        "workers",
        "Workers",
        "the worker pool: workers, jobs by state, next due",
        show=False,
    ),
    Action(
        "actions",
        "app",
        "A",
        "actions",
        "Actions",
        "who did what: the operator action log",
        show=False,
    ),
    # the dashboard
    *(
        Action(f"pane_{n}", "dashboard", str(n), f"show_pane({n})", f"pane {n}", _PANE, show=False)
        for n in range(1, 6)
    ),
    Action("next_pane", "dashboard", "tab", "next_pane(1)", "Next", "next pane", show=False),
    Action(
        "prev_pane", "dashboard", "shift+tab", "next_pane(-1)", "Prev", "previous pane", show=False
    ),
    Action(
        "filter",
        "dashboard",
        "slash",
        "filter",
        "Filter",
        "filter the focused pane (enter keeps it, esc clears)",
    ),
    Action(
        "follow",
        "dashboard",
        "F",
        "follow",
        "Follow",
        "follow the newest request (panes 2 and 5 follow by default)",
    ),
    Action(
        "pause",
        "dashboard",
        "space",
        "pause",
        "Pause",
        "pause the live requests pane (the gauges keep moving)",
    ),
    Action(
        "clear_filter",
        "dashboard",
        "escape",
        "clear_filter",
        "Clear filter",
        "clear the pane's filter",
        show=False,
    ),
    # every drill-down screen
    Action("back", "detail", "escape", "back", "Back", "back to the previous screen"),
    # one request attempt
    Action(
        "prev_request",
        "request_detail",
        "left_square_bracket",
        "step(-1)",
        "Prev",
        "previous request",
    ),
    Action(
        "next_request", "request_detail", "right_square_bracket", "step(1)", "Next", "next request"
    ),
    Action(
        "copy_curl",
        "request_detail",
        "y",
        "copy_curl",
        "Copy curl",
        "copy as curl (the key read from its secret reference)",
    ),
    # the audit browser
    Action("audit_more", "audit", "n", "more", "More", "next page of rows"),
    Action(
        "audit_export",
        "audit",
        "e",
        "export",
        "Export",
        "export the filtered rows to JSONL (the data dir's exports/)",
    ),
    Action(
        "audit_copy", "audit", "y", "copy_curl", "Copy curl", "copy the selected request as curl"
    ),
    Action("audit_filter", "audit", "slash", "edit_filter", "Filter", "edit the filter"),
    # the reports
    Action(
        "reports_window", "reports", "w", "next_window", "Window", "next window: 24h / 7d / 30d"
    ),
    # small screens
    Action("confirm_yes", "confirm", "y", "yes", "Yes", "choose the first answer"),
    Action("confirm_back", "confirm", "escape", "dismiss_none", "Back", "close without choosing"),
    Action("error_close", "error", "escape,enter", "dismiss", "Close", "close the error"),
    Action("help_close", "help", "escape,q,question_mark,f1", "dismiss", "Close", "close help"),
    Action("picker_back", "picker", "escape", "dismiss_none", "Back", "close without syncing"),
    Action("picker_down", "picker", "down", "move(1)", "Down", "next template", show=False),
    Action("picker_up", "picker", "up", "move(-1)", "Up", "previous template", show=False),
)
SCOPES = tuple(dict.fromkeys(a.scope for a in ACTIONS))
_BY_ID = {a.id: a for a in ACTIONS}


def action(binding_id: str) -> Action:
    """The registered action ``binding_id``."""
    return _BY_ID[binding_id]


def bindings(scope: str) -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    """The ``BINDINGS`` of the screen (or app) registered under ``scope``."""
    found: list[Binding | tuple[str, str] | tuple[str, str, str]]
    found = [a.binding() for a in ACTIONS if a.scope == scope]
    if not found:
        raise KeyError(f"no actions registered for scope {scope!r}")
    return found


def load_keymap(path: Path) -> dict[str, str]:
    """Remapped keys from ``path`` (an absent file remaps nothing)."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"keymap {path}: {exc}; fix or remove the file") from None
    unknown = sorted(set(data) - set(_BY_ID))
    if unknown:
        raise UsageError(
            f"keymap {path}: unknown binding id {unknown[0]!r}; known: {', '.join(_BY_ID)}"
        )
    bad = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise UsageError(f'keymap {path}: {bad[0]} must be a key string like "S" or "ctrl+s"')
    return {k: v.strip() for k, v in data.items()}
