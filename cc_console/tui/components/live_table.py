"""A DataTable kept in step with a keyed, ordered list — memray's live-table discipline.

New rows are added, changed cells updated, evicted rows removed, all in one batch; the table
is never cleared, so the cursor stays on its row and the viewport does not jump. With
``following`` on, the cursor rides the newest row at the top instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from ..format import Ranked

__all__ = ["LiveTable"]

Row = tuple[str, Any, Callable[[], Sequence[Any]]]  # key, signature of its data, cell builder


class LiveTable(DataTable[Any]):
    """A live table of keyed rows in a given order, filterable by text."""

    DEFAULT_CSS = "LiveTable { height: 1fr; }"

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._column_spec = list(columns)
        self._cells: dict[str, list[Any]] = {}
        self._signatures: dict[str, Any] = {}
        self._order: list[str] = []
        self.filter_text = ""
        self.following = False
        self.shown = 0

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    @property
    def keys(self) -> list[str]:
        """The keys of the rows shown, in order (a copy)."""
        return list(self._order)

    @property
    def selected_key(self) -> str | None:
        """Key of the row under the cursor, if any."""
        if not self._order or not 0 <= self.cursor_row < len(self._order):
            return None
        return self._order[self.cursor_row]

    def _matches(self, cells: Sequence[Any]) -> bool:
        needle = self.filter_text.lower()
        return any(needle in (c.plain if isinstance(c, Text) else str(c)).lower() for c in cells)

    def sync(self, rows: Sequence[Row]) -> int:
        """Show ``rows`` (in order); return how many rows are new.

        A row whose signature did not change since the last sync is not rebuilt.
        """
        built: list[tuple[str, Any, Sequence[Any] | None, Callable[[], Sequence[Any]]]] = [
            (key, sig, None, build) for key, sig, build in rows
        ]
        if self.filter_text:
            built = [
                (k, s, c, b)
                for k, s, c, b in ((k, s, self._current(k, s) or b(), b) for k, s, _, b in built)
                if self._matches(c)
            ]
        wanted = [key for key, *_ in built]
        wanted_set = set(wanted)
        selected = self.selected_key
        before = self._order.index(selected) if selected in self._order else None
        new = 0
        columns = [key for key, _ in self._column_spec]
        for key in [k for k in self._order if k not in wanted_set]:
            self.remove_row(key)
            del self._cells[key]
            del self._signatures[key]
        for rank, (key, signature, cells, build) in enumerate(built):
            old = self._cells.get(key)
            if old is not None and self._signatures[key] == signature:
                old[0].rank = rank
                continue
            cells = cells or build()
            self._signatures[key] = signature
            if old is None:
                first = Ranked(no_wrap=True, overflow="ellipsis")
                first.append_text(cells[0] if isinstance(cells[0], Text) else Text(str(cells[0])))
                first.rank = rank
                self.add_row(first, *cells[1:], key=key)
                self._cells[key] = [first, *cells[1:]]
                new += 1
                continue
            old[0].rank = rank
            for index in range(1, len(cells)):
                if old[index] != cells[index]:
                    self.update_cell(key, columns[index], cells[index])
                    old[index] = cells[index]
        if [row.key.value for row in self.ordered_rows] != wanted:
            self.sort(columns[0], key=lambda cell: cell.rank)
        self._order = wanted
        self.shown = len(wanted)
        self._restore_cursor(selected, before)
        return new

    def _current(self, key: str, signature: Any) -> Sequence[Any] | None:
        if key in self._cells and self._signatures.get(key) == signature:
            return self._cells[key]
        return None

    def _restore_cursor(self, selected: str | None, before: int | None) -> None:
        if not self._order:
            return
        if self.following or selected not in self._order:
            if self.following:
                self.move_cursor(row=0)
                self.scroll_y = 0
            return
        after = self._order.index(selected)
        if before is not None and after != before:
            self.scroll_y = max(0, self.scroll_y + (after - before))
            self.move_cursor(row=after, scroll=False)
