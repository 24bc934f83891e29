"""``scheduler tasks``: list, inspect, pause, resume, remove, preview and backfill tasks."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter
from rich.console import Group, RenderableType
from rich.prompt import Confirm
from rich.text import Text

from cli import output, resolve, styles
from cli.connection import connect
from cli.errors import EXIT_USAGE, CliError
from cli.output import OutputOption
from cli.schedule_view import next_runs
from cli.tables import fields, table
from cli.times import parse_duration, parse_moment, relative, rfc3339, show_duration_ms, show_time
from cli.yaml_text import dump_yaml

app = App(
    name="tasks",
    group_parameters="Options",
    help="List, inspect, pause, resume and remove tasks; their fire times.",
)

TaskRef = Annotated[str, Parameter(help="The task's name (or its id).")]
OverlapPolicy = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]


@app.command(name="ls")
def list_tasks(
    *,
    status: Literal["Active", "Inactive"] | None = None,
    task_type: Annotated[str | None, Parameter(name="--type")] = None,
    name: str | None = None,
    output_format: OutputOption = "table",
) -> int:
    """List tasks, by id.

    **Examples**

    ```
    scheduler tasks ls
    scheduler tasks ls --status Inactive --type shell
    scheduler tasks ls --name report -o json
    ```

    Parameters
    ----------
    status
        Only tasks in this status.
    task_type
        Only tasks of this type (`shell`, `http`, `python`).
    name
        Only tasks whose name contains this (case-insensitive).
    """
    with connect() as client:
        items = resolve.all_pages(
            client, "/api/tasks", {"status": status, "task_type": task_type, "name": name}
        )
        names = {item["id"]: item["name"] for item in items}
        if any(dep not in names for item in items for dep in item["dependencies"]):
            names = resolve.task_names(client)
    output.emit(items, output_format, lambda: _task_table(items, names))
    return 0


def _task_table(items: list[dict[str, Any]], names: dict[int, str]) -> RenderableType:
    if not items:
        return Text("no tasks", style="dim")
    now = datetime.now(UTC)
    grid = table("ID", "NAME", "TYPE", "SCHEDULE", "STATUS", "NEXT RUN", "DEPENDS ON")
    for item in items:
        schedule = Text(item["schedule"], style="cyan")
        if item.get("timezone"):
            schedule.append(f" {item['timezone']}", style="dim")
        grid.add_row(
            str(item["id"]),
            Text(item["name"], style="bold"),
            item["task_type"],
            schedule,
            styles.status(item["status"]),
            relative(item.get("next_run_at"), now) or Text("-", style="dim"),
            ", ".join(names.get(dep, f"#{dep}") for dep in item["dependencies"]) or "",
        )
    return grid


@app.command(name="get")
def get_task(ref: TaskRef, /, *, output_format: OutputOption = "table") -> int:
    """Show one task: its definition, statistics and latest runs.

    **Examples**

    ```
    scheduler tasks get nightly-extract
    scheduler tasks get 12 -o yaml
    ```
    """
    with connect() as client:
        found = resolve.task(client, ref)
        detail = client.get(f"/api/tasks/{found['id']}")
        names = resolve.task_names(client) if detail["dependencies"] else {}
    output.emit(detail, output_format, lambda: _task_detail(detail, names))
    return 0


def _task_detail(task: dict[str, Any], names: dict[int, str]) -> RenderableType:
    now = datetime.now(UTC)
    stats = task["execution_stats"]
    next_run = show_time(task.get("next_run_at"))
    if task.get("next_run_at"):
        next_run += f" ({relative(task['next_run_at'], now)})"
    rows: list[tuple[str, Any]] = [
        ("id", task["id"]),
        ("type", task["task_type"]),
        ("status", styles.status(task["status"])),
        ("schedule", Text(task["schedule"], style="cyan")),
        ("timezone", task.get("timezone") or "UTC"),
        ("next run", next_run),
        ("depends on", [names.get(dep, f"#{dep}") for dep in task["dependencies"]]),
        ("timeout", f"{task['timeout_seconds']} s"),
        ("retries", task["max_retries"]),
        ("overlap", task["overlap_policy"]),
        ("catch-up", f"{task['catchup_window_seconds']} s"),
        ("jitter", f"{task['jitter_seconds']} s"),
        ("dst policy", task["dst_policy"]),
        ("created", show_time(task["created_at"])),
        ("updated", show_time(task["updated_at"])),
        (
            "runs",
            f"{stats['total_runs']} ({stats['successful_runs']} ok, {stats['failed_runs']} failed,"
            f" {stats['success_rate']}% success, average "
            f"{show_duration_ms(stats.get('average_duration_ms'))})",
        ),
    ]
    parameters = Text(dump_yaml(task["parameters"]).rstrip(), style="")
    parts: list[RenderableType] = [
        fields(rows, title=task["name"]),
        Text("\nparameters", style="bold"),
        parameters,
    ]
    if task.get("recent_runs"):
        parts += [Text(""), runs_table(task["recent_runs"], title="recent runs")]
    return Group(*parts)


def runs_table(runs: list[dict[str, Any]], title: str | None = None) -> RenderableType:
    grid = table(
        "RUN", "STATUS", "TRIGGER", "SCHEDULED", "STARTED", "DURATION", "WORKER", "TRY", title=title
    )
    for run in runs:
        grid.add_row(
            str(run["id"]),
            styles.status(run["status"]),
            run.get("trigger") or "-",
            show_time(run["scheduled_at"]),
            show_time(run.get("started_at")),
            show_duration_ms(run.get("execution_duration_ms")),
            run.get("worker_id") or "-",
            str(run["retry_count"] + 1),
        )
    return grid


def _set_status(refs: list[str], action: Literal["pause", "resume"], fmt: output.Format) -> int:
    with connect() as client:
        tasks = [resolve.task(client, ref) for ref in refs]
        ids = sorted({task["id"] for task in tasks})
        result = client.post(f"/api/tasks/{action}", {"ids": ids})
    names = {task["id"]: task["name"] for task in tasks}
    output.emit(result, fmt, lambda: None)
    if fmt == "table":
        done = "paused" if action == "pause" else "resumed"
        for task_id in ids:
            if task_id in result["ids"]:
                output.note(f"[green]✓[/] {done} [bold]{names[task_id]}[/]")
            elif not any(failure["id"] == task_id for failure in result["failed"]):
                output.note(f"[dim]-[/] [bold]{names[task_id]}[/] was already {done}")
    for failure in result["failed"]:
        output.note(f"[red]✗[/] {names.get(failure['id'], failure['id'])}: {failure['error']}")
    return 1 if result["failed"] else 0


@app.command
def pause(*refs: TaskRef, output_format: OutputOption = "table") -> int:
    """Pause tasks: status `Inactive`, their schedules stop firing (manual runs still work).

    **Examples**

    ```
    scheduler tasks pause nightly-extract
    scheduler tasks pause extract load report
    ```
    """
    return _set_status(_need(refs), "pause", output_format)


@app.command
def resume(*refs: TaskRef, output_format: OutputOption = "table") -> int:
    """Resume paused tasks: status `Active`, their schedules fire again.

    **Examples**

    ```
    scheduler tasks resume nightly-extract
    ```
    """
    return _set_status(_need(refs), "resume", output_format)


@app.command(name="rm")
def remove(
    *refs: TaskRef,
    yes: Annotated[bool, Parameter(name=["--yes", "-y"], negative=())] = False,
    output_format: OutputOption = "table",
) -> int:
    """Delete tasks with their schedules and run history (asks first on a terminal).

    A task that others depend on cannot be deleted (`TASK_HAS_DEPENDENTS`).

    **Examples**

    ```
    scheduler tasks rm old-report
    scheduler tasks rm 14 15 --yes
    ```

    Parameters
    ----------
    yes
        Do not ask for confirmation.
    """
    with connect() as client:
        tasks = [resolve.task(client, ref) for ref in _need(refs)]
        listed = ", ".join(task["name"] for task in tasks)
        if not yes and sys.stdin.isatty():
            prompt = f"Delete {listed} with their schedules and run history?"
            if not Confirm.ask(prompt, default=False, console=output.err()):
                raise CliError("nothing was deleted")
        deleted = []
        for task in tasks:
            client.delete(f"/api/tasks/{task['id']}")
            deleted.append({"id": task["id"], "name": task["name"]})
            if output_format == "table":
                output.note(f"[green]✓[/] deleted [bold]{task['name']}[/]")
    output.emit({"deleted": deleted}, output_format, lambda: None)
    return 0


@app.command(name="next")
def next_fires(
    ref: TaskRef,
    /,
    *,
    count: Annotated[int, Parameter(name=["-n", "--count"])] = 10,
    output_format: OutputOption = "table",
) -> int:
    """The task's next fire times, as Temporal will fire them (DST policy applied).

    **Examples**

    ```
    scheduler tasks next nightly-extract
    scheduler tasks next nightly-extract -n 3 -o json
    ```

    Parameters
    ----------
    count
        How many (1 to 100).
    """
    with connect() as client:
        found = resolve.task(client, ref)
        data = client.get(f"/api/tasks/{found['id']}/schedule", {"count": count})
    output.emit(data, output_format, lambda: next_runs(data, found["name"]))
    return 0


@app.command
def fires(
    ref: TaskRef,
    /,
    *,
    since: str = "24h",
    output_format: OutputOption = "table",
) -> int:
    """The fire ledger: every fire time of a recent period and what became of it.

    Each fire `ran` (with its run), was `skipped_overlap` or `skipped_paused`, is
    `upcoming`, or was `missed` (the scheduler was down for longer than the
    catch-up window).

    **Examples**

    ```
    scheduler tasks fires nightly-extract
    scheduler tasks fires api-health --since 7d
    ```

    Parameters
    ----------
    since
        How far back: `90m`, `12h`, `7d` (at most 7 days).
    """
    now = datetime.now(UTC)
    start = now - parse_duration(since)
    with connect() as client:
        found = resolve.task(client, ref)
        data = client.get(
            f"/api/tasks/{found['id']}/fires", {"from": rfc3339(start), "to": rfc3339(now)}
        )
    output.emit(data, output_format, lambda: _ledger(data, found["name"]))
    return 0


def _ledger(data: dict[str, Any], name: str) -> RenderableType:
    summary = data["summary"]
    head = Text.assemble(
        (name, "bold"),
        (f"  {show_time(data['from'])} → {show_time(data['to'])}  ", "dim"),
        (f"{summary['expected']} due: {summary['ran']} ran", ""),
        (f", {summary['missed']} missed", "red" if summary["missed"] else ""),
        (f", {summary['skipped_overlap']} skipped (overlap)", ""),
        (f", {summary['skipped_paused']} skipped (paused)", ""),
        (f"; {summary['upcoming']} upcoming", "dim"),
    )
    if not data["fires"]:
        return Group(head, Text("no fire times in this period", style="dim"))
    grid = table("FIRE TIME", "OUTCOME", "RUN", "STATUS", "NOTE")
    for fire in data["fires"]:
        grid.add_row(
            show_time(fire["at"]),
            styles.status(fire["outcome"]),
            str(fire["task_run_id"]) if fire.get("task_run_id") else "-",
            styles.status(fire.get("status")),
            Text(fire.get("note") or "", style="yellow"),
        )
    return Group(head, grid)


@app.command
def backfill(
    ref: TaskRef,
    /,
    *,
    start: Annotated[str, Parameter(name="--from")],
    end: Annotated[str, Parameter(name="--to")] = "now",
    overlap_policy: OverlapPolicy | None = None,
    output_format: OutputOption = "table",
) -> int:
    """Run the task's past fire times of a range, each once.

    **Examples**

    ```
    scheduler tasks backfill nightly-extract --from 3d
    scheduler tasks backfill nightly-extract --from 2026-03-01T00:00 --to 2026-03-02T00:00
    ```

    Parameters
    ----------
    start
        Start: ISO 8601 (UTC unless it has an offset) or a duration ago (`3d`).
    end
        End, included; default now.
    overlap_policy
        How the backfilled runs overlap; default `buffer_all` (one after another).
    """
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "start": rfc3339(parse_moment(start, now)),
        "end": rfc3339(parse_moment(end, now)),
    }
    if overlap_policy is not None:
        body["overlap_policy"] = overlap_policy
    with connect() as client:
        found = resolve.task(client, ref)
        data = client.post(f"/api/tasks/{found['id']}/backfill", body)
    output.emit(data, output_format, lambda: None)
    if output_format == "table":
        output.note(
            f"[green]✓[/] backfilling [bold]{data['fires']}[/] fire time(s) of "
            f"[bold]{found['name']}[/] from {show_time(data['start'])} to {show_time(data['end'])}"
        )
    return 0


def _need(refs: tuple[str, ...]) -> list[str]:
    if not refs:
        raise CliError("name at least one task", exit_code=EXIT_USAGE)
    return list(refs)
