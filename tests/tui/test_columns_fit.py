"""Columns use the width there is: whole values, the flex column takes the rest, and at 80
columns the least important columns go instead of scrolling sideways."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from cc_console.tui.components.live_table import Column, LiveTable

from .conftest import loaded


def pane_table(app: Any, key: str) -> LiveTable:
    return app.dashboard_screen.panes[key].table


def rendered_width(table: LiveTable) -> int:
    return sum(column.get_render_width(table) for column in table.columns.values())


def cell_fits(table: LiveTable, column: str) -> bool:
    """Every value of ``column`` is shown whole (no ellipsis)."""
    width = table.columns[column].get_render_width(table) - 2 * table.cell_padding
    return all(
        (cell.cell_len if isinstance(cell, Text) else len(str(cell))) <= width
        for cell in table.get_column(column)
    )


@pytest.mark.parametrize(
    ("size", "dropped"),
    [
        ((80, 24), {"trigger", "mode", "pages", "took", "started", "progress"}),
        ((120, 40), {"mode"}),
        ((200, 60), set()),
    ],
    ids=["80x24", "120x40", "200x60"],
)
async def test_runs_pane_fits_its_width(console_app, size, dropped) -> None:
    app = console_app()
    async with app.run_test(size=size) as pilot:
        await loaded(pilot)
        await pilot.pause()
        table = pane_table(app, "runs")
        every = {c.key for c in table._column_spec}
        assert set(table.columns_shown) == every - dropped
        assert rendered_width(table) <= table.size.width  # no sideways scrolling
        for column in ("status", "template", "records"):
            assert cell_fits(table, column), column  # status words and names whole


async def test_the_errors_message_takes_the_rest_of_the_pane(console_app) -> None:
    app = console_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await loaded(pilot)
        await pilot.pause()
        table = pane_table(app, "errors")
        room = table.size.width - table.styles.scrollbar_size_vertical
        longest = max(len(str(cell)) for cell in table.get_column("message"))
        message = table.columns["message"].get_render_width(table) - 2 * table.cell_padding
        others = rendered_width(table) - message - 2 * table.cell_padding
        assert message == min(longest, room - others - 2 * table.cell_padding)
        assert rendered_width(table) <= room


class OneTable(App[None]):
    def compose(self) -> ComposeResult:
        yield LiveTable(
            [
                Column("id", "id", keep=10),
                Column("status", "status", keep=9),
                Column("note", "note", keep=1),
                Column("message", "message", keep=5, flex=True, min_width=8),
            ]
        )


def rows(status: str, message: str) -> list[Any]:
    return [("a", (status, message), lambda: ["a", status, "a note", message])]


async def test_a_wider_value_widens_its_column_and_the_flex_column_gives_way() -> None:
    app = OneTable()
    async with app.run_test(size=(34, 10)) as pilot:
        table = app.query_one(LiveTable)
        table.sync(rows("running", "short"))
        await pilot.pause()
        assert table.columns_shown == ["id", "status", "note", "message"]
        table.sync(rows("succeeded", "x" * 200))  # the status word grows; the message is long
        await pilot.pause()
        assert cell_fits(table, "status")
        assert table.columns_shown == ["id", "status", "message"]  # the note goes first
        assert rendered_width(table) <= table.size.width - table.styles.scrollbar_size_vertical
        await pilot.resize_terminal(100, 10)
        await pilot.pause()
        assert table.columns_shown == ["id", "status", "note", "message"]
        assert table.selected_key == "a"


async def test_cached_cells_follow_their_row_and_their_content() -> None:
    from rich.style import Style

    def text_and_row(table: LiveTable, row: int, column: int) -> tuple[str, int]:
        [line] = table._render_cell(row, column, Style(), 12)
        return "".join(s.text for s in line).strip(), line[0].style.meta["row"]  # type: ignore[union-attr]

    app = OneTable()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(LiveTable)
        table.sync([("a", 1, lambda: ["a", "running", "", ""])])
        await pilot.pause()
        assert text_and_row(table, 0, 1) == ("running", 0)
        table.sync(
            [
                ("b", 1, lambda: ["b", "failed", "", ""]),  # a newer row goes in on top
                ("a", 2, lambda: ["a", "succeeded", "", ""]),
            ]
        )
        await pilot.pause()
        assert text_and_row(table, 0, 1) == ("failed", 0)
        assert text_and_row(table, 1, 1) == ("succeeded", 1)  # a clicks as row 1 now
