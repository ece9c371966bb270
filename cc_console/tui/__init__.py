"""The Textual operator console; :func:`make_app` builds it for the CLI, tests and snapshots."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..settings import Settings, current_user
from ..store.database import Database
from .app import MIN_SIZE, ConsoleApp, local_now
from .keymap import load_keymap

__all__ = ["MIN_SIZE", "ConsoleApp", "make_app"]


def make_app(
    settings: Settings,
    database: Database,
    *,
    read_only: bool = False,
    clock: Callable[[], datetime] = local_now,
    live: bool = True,
    theme: str | None = None,
    start_templates: list[uuid.UUID] | None = None,
    trigger: str = "console",
    **kwargs: Any,
) -> ConsoleApp:
    """The console on ``database``; a bad keymap file or theme raises a one-line error."""
    from ..errors import UsageError

    chosen = theme or settings.theme
    app = ConsoleApp(
        database,
        user=current_user(settings),
        read_only=read_only,
        clock=clock,
        live=live,
        keymap=load_keymap(settings.keymap_path),
        theme=chosen,
        start_templates=start_templates,
        trigger=trigger,
        exports_dir=settings.data_dir / "exports",
        **kwargs,
    )
    if chosen not in app.available_themes:
        raise UsageError(
            f"unknown theme {chosen!r}; choose one of {', '.join(sorted(app.available_themes))}"
        )
    return app
