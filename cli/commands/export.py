"""``scheduler export``: every task on the server as a file ``apply`` takes back unchanged."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any

from cyclopts import Parameter
from rich.console import RenderableType
from rich.text import Text

from cli import output
from cli.connection import connect
from cli.output import Format
from cli.tables import table
from cli.times import rfc3339
from cli.yaml_text import dump_yaml


def export(
    *,
    output_format: Annotated[
        Format,
        Parameter(
            name=["--output", "-o"],
            help="`yaml` (default: a task file), `json` (an apply body) or `table`.",
        ),
    ] = "yaml",
) -> int:
    """Print every task as a definition, dependencies by name: a file for `apply`.

    Applying the export back changes nothing, so it is the way to start keeping
    existing tasks in git.

    **Examples**

    ```
    scheduler export > tasks.yaml
    scheduler export -o json | jq '.tasks[].name'
    ```
    """
    with connect() as client:
        data = client.get("/api/tasks/export")
    if output_format == "yaml":
        sys.stdout.write(
            f"# scheduler export of {client.base_url} at {rfc3339(datetime.now(UTC))}\n"
            "# Apply with: scheduler apply -f <this file>\n"
        )
        sys.stdout.write(dump_yaml(data))
        return 0
    output.emit(data, output_format, lambda: _table(data["tasks"]))
    return 0


def _table(tasks: list[dict[str, Any]]) -> RenderableType:
    if not tasks:
        return Text("no tasks", style="dim")
    grid = table("NAME", "TYPE", "SCHEDULE", "STATUS", "DEPENDS ON")
    for task in tasks:
        grid.add_row(
            Text(task["name"], style="bold"),
            task["task_type"],
            Text(task["schedule"], style="cyan"),
            task.get("status", "Active"),
            ", ".join(task.get("dependencies") or []),
        )
    return grid
