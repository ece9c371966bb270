"""A DataTable kept in step with a keyed, ordered list — memray's live-table discipline.

New rows are added, changed cells updated, evicted rows removed, all in one batch; the table
is never cleared, so the cursor stays on its row and the viewport does not jump. With
``following`` on, the cursor rides the newest row at the top instead.

Columns fit the width there is: every column is as wide as its widest cell (a status word is
never cut), the ``flex`` column takes what is left, and when the width runs out the columns
least worth keeping are dropped first instead of scrolling sideways. Only a change of the
columns shown (a resize, a wider value) rebuilds the table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.events import Resize
from textual.widgets import DataTable

from ..format import Ranked

__all__ = ["Column", "LiveTable", "Row"]

Row = tuple[str, Any, Callable[[], Sequence[Any]]]  # key, signature of its data, cell builder


@dataclass(frozen=True)
class Column:
    """A column: ``keep`` ranks it (the lowest is dropped first when the width runs out);
    the ``flex`` column takes the width the others leave (at least ``min_width``, at most its
    widest cell) — the one a long value is cut in."""

    key: str
    label: str
    keep: int = 5
    flex: bool = False
    min_width: int = 10


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


class LiveTable(DataTable[Any]):
    """A live table of keyed rows in a given order, filterable by text."""

    DEFAULT_CSS = "LiveTable { height: 1fr; }"

    def __init__(self, columns: Sequence[Column], **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._column_spec = list(columns)
        self._column_index = {c.key: n for n, c in enumerate(self._column_spec)}
        self._widths = {c.key: len(c.label) for c in self._column_spec}  # widest cell so far
        self._layout: tuple[tuple[str, int | None], ...] = ()  # shown columns, flex width
        self._cells: dict[str, list[Any]] = {}
        self._signatures: dict[str, Any] = {}
        # rendered cells by their own content version: DataTable's cache is dropped on any
        # change to the table, so one new row re-rendered every visible cell
        self._versions: dict[str, int] = {}
        self._next_version = count()
        self._cell_lines: LRUCache[tuple[Any, ...], list[list[Segment]]] = LRUCache(8192)
        self._order: list[str] = []
        self.filter_text = ""
        self.following = False
        self.shown = 0

    @property
    def columns_shown(self) -> list[str]:
        """The keys of the columns on screen, in order."""
        return [key for key, _ in self._layout]

    def on_mount(self) -> None:
        self._fit()

    def on_resize(self, event: Resize) -> None:
        self._fit()

    def _plan(self) -> tuple[tuple[str, int | None], ...]:
        """Which columns fit the width, and the flex column's width.

        The first column and the flex column's ``min_width`` always get room; then, most
        worth keeping first, columns until one does not fit (the flex column's full width,
        ranked by its ``keep``, is skipped when it does not fit: it is cut instead); what is
        left widens the flex column up to its widest cell.
        """
        room = self.size.width - self.styles.scrollbar_size_vertical  # a scrollbar may come
        if room <= 0:  # not laid out yet, or a hidden pane
            return self._layout or tuple((c.key, None) for c in self._column_spec)
        pad = 2 * self.cell_padding
        first, flex = self._column_spec[0], next((c for c in self._column_spec if c.flex), None)
        kept = {first.key} | ({flex.key} if flex else set())
        used = sum(
            pad + (c.min_width if c is flex else self._widths[c.key])
            for c in self._column_spec
            if c.key in kept
        )
        flex_width = flex.min_width if flex else 0
        for column in sorted(self._column_spec, key=lambda c: -c.keep):
            if column is flex:
                grow = max(0, self._widths[column.key] - column.min_width)
                if used + grow <= room:
                    used, flex_width = used + grow, column.min_width + grow
            elif column.key not in kept:
                if used + pad + self._widths[column.key] > room:
                    break  # strictly by keep: a less important column never takes its place
                kept.add(column.key)
                used += pad + self._widths[column.key]
        if flex is not None:
            flex_width = max(flex_width, min(self._widths[flex.key], flex_width + room - used))
        return tuple(
            (c.key, flex_width if c is flex else None) for c in self._column_spec if c.key in kept
        )

    def _fit(self) -> None:
        layout = self._plan()
        if layout == self._layout:
            return
        selected, row = self.selected_key, self.cursor_row
        self._layout = layout
        self._cell_lines.clear()
        self.clear(columns=True)
        labels = {c.key: c.label for c in self._column_spec}
        for key, width in layout:
            self.add_column(labels[key], key=key, width=width)
        for key in self._order:
            self.add_row(*self._visible(self._cells[key]), key=key)
        if selected in self._order:
            self.move_cursor(row=self._order.index(selected), scroll=False)
        elif self._order:
            self.move_cursor(row=min(row, len(self._order) - 1), scroll=False)

    def _visible(self, cells: Sequence[Any]) -> list[Any]:
        return [cells[self._column_index[key]] for key, _ in self._layout]

    def _measure(self, cells: Sequence[Any]) -> None:
        for column, cell in zip(self._column_spec, cells, strict=False):
            width = _width(cell)
            if width > self._widths[column.key]:
                self._widths[column.key] = width

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
        columns = [c.key for c in self._column_spec]
        shown = set(self.columns_shown)
        for key in [k for k in self._order if k not in wanted_set]:
            self.remove_row(key)
            del self._cells[key]
            del self._signatures[key]
            del self._versions[key]
        for rank, (key, signature, cells, build) in enumerate(built):
            old = self._cells.get(key)
            if old is not None and self._signatures[key] == signature:
                old[0].rank = rank
                continue
            cells = cells or build()
            self._signatures[key] = signature
            self._versions[key] = next(self._next_version)
            self._measure(cells)
            if old is None:
                first = Ranked(no_wrap=True, overflow="ellipsis")
                first.append_text(cells[0] if isinstance(cells[0], Text) else Text(str(cells[0])))
                first.rank = rank
                row = [first, *cells[1:]]
                self.add_row(*self._visible(row), key=key)
                self._cells[key] = row
                new += 1
                continue
            old[0].rank = rank
            for index in range(1, len(cells)):
                if old[index] != cells[index]:
                    if columns[index] in shown:  # a wider value widens its column
                        self.update_cell(key, columns[index], cells[index], update_width=True)
                    old[index] = cells[index]
        if [row.key.value for row in self.ordered_rows] != wanted:
            self.sort(self.columns_shown[0], key=self._rank_of)
        self._order = wanted
        self.shown = len(wanted)
        self._restore_cursor(selected, before)
        self._fit()  # a wider value may leave less for the flex column, or drop one
        return new

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A body cell from the cache while its row's content, width and style stay; the
        row and column it is clicked as are stamped on afresh (rows move as new ones come)."""
        if row_index < 0 or column_index < 0:  # the header
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cache_key = (
            row_key,
            column_key,
            self._versions.get(row_key.value or "", -1) if row_key is not None else -1,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self.show_cursor,
            self._pseudo_class_state if cursor or hover else None,  # the cursor's style
        )
        lines = self._cell_lines.get(cache_key)
        if lines is None:
            rendered = super()._render_cell(
                row_index, column_index, base_style, width, cursor, hover
            )
            lines = [
                [
                    Segment(t, None if st is None else st.clear_meta_and_links(), c)
                    for t, st, c in line
                ]
                for line in rendered
            ]
            self._cell_lines[cache_key] = lines
        where = Style.from_meta({"row": row_index, "column": column_index})
        return [list(Segment.apply_style(line, post_style=where)) for line in lines]

    def _rank_of(self, cell: Any) -> int:
        return cell.rank if isinstance(cell, Ranked) else 0

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
