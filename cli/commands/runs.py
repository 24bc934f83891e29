"""``scheduler runs``: a task's runs, one run, its output, cancelling it."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter
from rich.console import Group, RenderableType
from rich.text import Text

from cli import output, resolve, styles
from cli.commands.tasks import runs_table
from cli.connection import connect
from cli.output import OutputOption
from cli.tables import fields
from cli.times import show_duration_ms, show_time

app = App(
    name="runs",
    group_parameters="Options",
    help="A task's runs, one run's details and output; cancel a run.",
)

RunId = Annotated[int, Parameter(help="The run's id.")]
RunStatus = Literal["Pending", "Dispatched", "Running", "Completed", "Failed", "Timeout"]


@app.command(name="ls")
def list_runs(
    name: Annotated[str, Parameter(help="The task's name (or its id).")],
    /,
    *,
    status: RunStatus | None = None,
    limit: Annotated[int, Parameter(name=["--limit", "-n"])] = 20,
    output_format: OutputOption = "table",
) -> int:
    """A task's runs, newest first.

    **Examples**

    ```
    scheduler runs ls nightly-extract
    scheduler runs ls nightly-extract --status Failed -n 50
    ```

    Parameters
    ----------
    status
        Only runs in this status.
    limit
        At most this many (1 to 100).
    """
    with connect() as client:
        task = resolve.task(client, name)
        data = client.get(f"/api/tasks/{task['id']}/runs", {"status": status, "page_size": limit})
    items = data["items"]
    output.emit(items, output_format, lambda: _listing(task["name"], items, data["total"]))
    return 0


def _listing(name: str, items: list[dict[str, Any]], total: int) -> RenderableType:
    if not items:
        return Text(f"{name} has no runs" + (" in that status" if total else ""), style="dim")
    noun = "run" if total == 1 else "runs"
    shown = f"{len(items)} of {total} {noun}" if total > len(items) else f"{total} {noun}"
    return Group(Text.assemble((name, "bold"), (f"  {shown}", "dim")), runs_table(items))


@app.command(name="get")
def get_run(run_id: RunId, /, *, output_format: OutputOption = "table") -> int:
    """One run: status, times, worker, attempts and output.

    **Examples**

    ```
    scheduler runs get 4711
    scheduler runs get 4711 -o json
    ```
    """
    with connect() as client:
        run = client.get(f"/api/task-runs/{run_id}")
        names = resolve.task_names(client)
    output.emit(run, output_format, lambda: _detail(run, names.get(run["task_id"])))
    return 0


def _detail(run: dict[str, Any], name: str | None) -> RenderableType:
    rows: list[tuple[str, Any]] = [
        ("task", f"{name} (#{run['task_id']})" if name else f"#{run['task_id']}"),
        ("status", styles.status(run["status"])),
        (
            "trigger",
            run["trigger"] + (f" by {run['triggered_by']}" if run.get("triggered_by") else ""),
        ),
        ("scheduled", show_time(run["scheduled_at"])),
        ("started", show_time(run.get("started_at"))),
        ("completed", show_time(run.get("completed_at"))),
        ("duration", show_duration_ms(run.get("execution_duration_ms"))),
        ("worker", run.get("worker_id")),
        ("attempt", run["retry_count"] + 1),
        ("workflow", run["workflow_id"]),
        ("temporal", run.get("temporal_ui_url")),
    ]
    parts: list[RenderableType] = [fields(rows, title=f"run {run['id']}")]
    if run.get("result"):
        parts += [Text("\nresult", style="bold"), Text(run["result"].rstrip("\n"))]
    if run.get("error_message"):
        parts += [
            Text("\nerror", style="bold red"),
            Text(run["error_message"].rstrip("\n"), style="red"),
        ]
    return Group(*parts)


@app.command
def logs(run_id: RunId, /, *, output_format: OutputOption = "table") -> int:
    """A run's output as plain text: its result, then its error message.

    **Examples**

    ```
    scheduler runs logs 4711
    scheduler runs logs 4711 | grep ERROR
    ```
    """
    with connect() as client:
        run = client.get(f"/api/task-runs/{run_id}")
    data = {"result": run.get("result"), "error_message": run.get("error_message")}
    if output_format != "table":
        output.emit(data, output_format, lambda: None)
        return 0
    for text in (run.get("result"), run.get("error_message")):
        if text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if not run.get("result") and not run.get("error_message"):
        output.note(f"[dim]run {run_id} ({run['status']}) has no output yet[/]")
    return 0


@app.command
def cancel(run_id: RunId, /, *, output_format: OutputOption = "table") -> int:
    """Cancel an open run: its processes are killed and it ends `Failed`.

    **Examples**

    ```
    scheduler runs cancel 4711
    ```
    """
    with connect() as client:
        data = client.post(f"/api/task-runs/{run_id}/cancel")
    output.emit(data, output_format, lambda: None)
    if output_format == "table":
        output.note(f"[green]✓[/] cancellation of run [bold]{run_id}[/] requested")
    return 0
