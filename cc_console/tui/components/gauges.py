"""The rate-limit pane: one two-line gauge per scope, not a table (nothing to select)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ..format import bar, duration, sparkline

__all__ = ["ScopeGauges", "gauge_text", "learned_text", "policy_text"]


def policy_text(scope: dict[str, Any]) -> str:
    """The limit the server states: ``20/s burst 10``, ``100/60s``, or just ``100``."""
    limit, window = scope["limit"], scope.get("window_s")
    if not limit:
        return ""
    shown = f"{limit}/s" if window == 1 else f"{limit}/{window:g}s" if window else f"limit {limit}"
    burst = scope.get("burst")
    return shown + (f" burst {burst}" if burst is not None else "")


def learned_text(scope: dict[str, Any]) -> Text:
    """``learned 19.6/s (confirmed ×2)  observed 19.4/s``: its pace and what was sent."""
    text = Text()
    learned, observed = scope.get("learned_rps"), scope.get("observed_rps") or 0.0
    if learned:
        text.append(f"learned {learned:.3g}/s", style="bold")
        if scope.get("slow_start_rps"):
            text.append(" (probing)", style="dim")
        elif scope.get("confirmations"):
            text.append(f" (confirmed ×{scope['confirmations']})", style="dim")
    if observed:
        shown = f"{observed:.3g}/s" if observed >= 1 else f"{observed * 60:.3g}/min"
        text.append(f"{'  ' if learned else ''}observed {shown}", style="dim")
    return text


def gauge_text(scopes: list[dict[str, Any]], now: datetime) -> Text:
    """Per scope: name and wait; remaining bar and reset countdown; 429s per minute."""
    if not scopes:
        return Text("no rate-limit state yet (written by the first request)", style="dim")
    several_configs = len({s["config"] for s in scopes}) > 1
    text = Text()
    for n, s in enumerate(scopes):
        if n:
            text.append("\n")
        name = s["scope"].removeprefix("endpoint:")
        label = f"{s['config']} {name}" if several_configs else name
        text.append(label, style="bold")
        waits = [t for t in (s["retry_after_until"], s["next_request_at"]) if t and t > now]
        if waits:
            wait = max((t - now).total_seconds() for t in waits)
            text.append(f"  wait {duration(wait)}", style="bold yellow")
        text.append("\n")
        if s["limit"] and s["remaining"] is not None:
            empty = s["remaining"] == 0
            text.append_text(
                bar(s["remaining"], s["limit"], width=8, style="red" if empty else "green")
            )
            text.append(f" {s['remaining']}/{s['limit']}")
        counted = s["remaining"] is not None
        if s["limit"] and (not counted or s.get("window_s") or s.get("burst") is not None):
            text.append(("  " if counted else "") + policy_text(s))  # the stated policy
        elif not s["limit"]:
            text.append("no limit headers seen", style="dim")
        reset = s["reset_at"]
        if reset is not None:
            text.append(f"  reset {duration(max(0.0, (reset - now).total_seconds()))}")
        text.append("\n429s/min ", style="dim")
        text.append_text(sparkline(s["per_minute"]))
        text.append(f" {sum(s['per_minute'])} in {len(s['per_minute'])}m", style="dim")
        if s.get("learned_rps"):  # a line of its own: the pane is narrow
            text.append("\n").append_text(learned_text(s))
    return text


class ScopeGauges(Static, can_focus=True):
    """Focusable so number keys and tab reach it like the other panes."""

    def show(self, scopes: list[dict[str, Any]], now: datetime) -> None:
        text = gauge_text(scopes, now)
        if text != self._shown:  # its size is set by the pane: no layout pass needed
            self._shown = text
            self.update(text, layout=False)

    _shown = Text()
