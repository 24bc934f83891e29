"""The look of every table: one style, so all commands read alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text


def table(*columns: str, title: str | None = None) -> Table:
    """A table with a bold header rule and no outer frame (reads well in a pipe too)."""
    return Table(
        *columns,
        box=box.SIMPLE_HEAD,
        header_style="bold",
        title=title,
        title_justify="left",
        title_style="bold",
        pad_edge=False,
        show_edge=False,
    )


def fields(rows: Iterable[tuple[str, Any]], title: str | None = None) -> RenderableType:
    """A two-column key/value listing (one object's fields), under a bold title."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, value if isinstance(value, Text) else Text(_plain(value)))
    if title is None:
        return grid
    return Group(Text(title, style="bold underline"), grid)


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "-"
    return str(value)
