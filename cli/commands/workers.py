"""``scheduler workers``: the executor fleet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cyclopts import App
from rich.console import RenderableType
from rich.text import Text

from cli import output, resolve, styles
from cli.connection import connect
from cli.output import OutputOption
from cli.tables import table
from cli.times import relative

app = App(name="workers", group_parameters="Options", help="The executor workers and their load.")


@app.command(name="ls")
def list_workers(*, output_format: OutputOption = "table") -> int:
    """Every registered worker: its task types, status and load.

    **Examples**

    ```
    scheduler workers ls
    scheduler workers ls -o json
    ```
    """
    with connect() as client:
        items = resolve.all_pages(client, "/api/workers")
    output.emit(items, output_format, lambda: _table(items))
    return 0


def _table(items: list[dict[str, Any]]) -> RenderableType:
    if not items:
        return Text("no workers have registered", style="dim")
    now = datetime.now(UTC)
    grid = table("ID", "HOST", "TYPES", "STATUS", "LOAD", "HEARTBEAT")
    for worker in items:
        grid.add_row(
            worker["id"],
            f"{worker['hostname']} ({worker['ip_address']})",
            ", ".join(worker["supported_task_types"]),
            styles.status(worker["status"]),
            f"{worker['current_task_count']}/{worker['max_concurrent_tasks']}"
            f" ({worker['load_percentage']:.0f}%)",
            relative(worker["last_heartbeat"], now),
        )
    return grid
