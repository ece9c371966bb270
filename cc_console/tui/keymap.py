"""Binding ids and their default keys; a TOML file may remap any of them.

``keymap.toml`` (in the data dir, or ``CC_KEYMAP_FILE``)::

    start_sync = "S"
    audit = "ctrl+a"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.binding import Binding

from ..errors import UsageError

__all__ = ["ACTIONS", "DESCRIPTIONS", "binding", "load_keymap"]

# id: (default keys, action, footer label, what it does)
ACTIONS: dict[str, tuple[str, str, str, str]] = {
    "quit": ("q,ctrl+q", "request_quit", "Quit", "quit (asks first when runs are active)"),
    "help": ("question_mark,f1", "help", "Help", "help for the focused pane"),
    "palette": ("ctrl+p,colon", "command_palette", "Palette", "command palette"),
    "start_sync": ("s", "start_sync", "Sync", "start a sync: pick an active template"),
    "resume": ("r", "resume", "Resume", "resume the selected failed/partial run"),
    "retry": ("R", "retry", "Retry", "retry the selected run from the start"),
    "cancel": ("c", "cancel_run", "Cancel", "cancel the selected running run"),
    "audit": ("a", "audit", "Audit", "open the audit browser"),
    "reports": ("p", "reports", "Reports", "SLA, throttling, validation and audit reports"),
    "workers": ("W", "workers", "Workers", "the worker pool: workers, jobs by state, next due"),
    "filter": ("slash", "filter", "Filter", "filter the focused pane"),
    "follow": ("F", "follow", "Follow", "follow the newest request"),
    "pause": ("space", "pause", "Pause", "pause the live requests pane"),
    "next_pane": ("tab", "next_pane(1)", "Next", "next pane"),
    "prev_pane": ("shift+tab", "next_pane(-1)", "Prev", "previous pane"),
}
DESCRIPTIONS = {key: value[3] for key, value in ACTIONS.items()}
CRITICAL = {"quit", "palette"}


def binding(binding_id: str, *, show: bool = True) -> Binding:
    """The Binding registered under ``binding_id``."""
    keys, action, label, _ = ACTIONS[binding_id]
    return Binding(keys, action, label, show=show, id=binding_id, priority=binding_id in CRITICAL)


def load_keymap(path: Path) -> dict[str, str]:
    """Remapped keys from ``path`` (an absent file remaps nothing)."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"keymap {path}: {exc}; fix or remove the file") from None
    unknown = sorted(set(data) - set(ACTIONS))
    if unknown:
        raise UsageError(
            f"keymap {path}: unknown binding id {unknown[0]!r}; known: {', '.join(ACTIONS)}"
        )
    bad = [k for k, v in data.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise UsageError(f'keymap {path}: {bad[0]} must be a key string like "S" or "ctrl+s"')
    return {k: v.strip() for k, v in data.items()}
