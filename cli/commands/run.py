"""``scheduler run``: trigger a task now and, with ``--wait``, follow it to its end."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

from cyclopts import Parameter
from rich.markup import escape
from rich.status import Status

from cli import output, resolve, styles, waiting
from cli.connection import connect
from cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_TIMEOUT, CliError
from cli.output import OutputOption
from cli.times import show_duration_ms

EXIT_CODES = {"Completed": EXIT_OK, "Failed": EXIT_FAILED, "Timeout": EXIT_TIMEOUT}


def run(
    name: Annotated[str, Parameter(help="The task's name (or its id).")],
    /,
    *,
    wait: Annotated[bool, Parameter(negative=())] = False,
    idempotency_key: str | None = None,
    output_format: OutputOption = "table",
) -> int:
    """Run a task now; with `--wait`, follow it and print its output.

    While waiting, a status line follows the run (Pending → Dispatched →
    Running → ...); then the output is printed (the result on stdout, the error
    on stderr). Exit code: 0 `Completed`, 1 `Failed`, 2 `Timeout`, 3 the server
    cannot be reached. Without `--wait` the run's id is printed and the exit
    code is 0 once it is started.

    **Examples**

    ```
    scheduler run nightly-extract --wait
    scheduler run nightly-extract --idempotency-key deploy-2026-03-01
    scheduler run api-health --wait -o json
    ```

    Parameters
    ----------
    wait
        Follow the run until it ends; the exit code tells how it ended.
    idempotency_key
        The same key for the same task within 24 hours answers the first run instead
        of starting another.
    """
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    with connect() as client:
        task = resolve.task(client, name)
        answer = client.request("POST", f"/api/tasks/{task['id']}/trigger", headers=headers)
        run_id = int(answer.data["task_run_id"])
        replayed = answer.headers.get("Idempotent-Replayed") == "true"
        if output_format == "table":
            verb = "already started as" if replayed else "started"
            output.note(f"[bold]{escape(task['name'])}[/]: {verb} run [bold]{run_id}[/]")
        if not wait:
            output.emit({**answer.data, "replayed": replayed}, output_format, lambda: None)
            return EXIT_OK
        try:
            final = _follow(client, task["name"], run_id)
        except KeyboardInterrupt:
            raise CliError(
                f"stopped waiting; run {run_id} goes on",
                exit_code=EXIT_INTERRUPTED,
                hint=f"scheduler runs get {run_id}   (or: scheduler runs cancel {run_id})",
            ) from None
    if output_format == "table":
        _print_outcome(final)
    else:
        output.emit(final, output_format, lambda: None)
    return EXIT_CODES.get(final["status"], EXIT_FAILED)


def _follow(client: Any, name: str, run_id: int) -> dict[str, Any]:
    if not output.err().is_terminal:
        # A log (CI) gets one line per change instead of a redrawn line.
        def log(run: dict[str, Any]) -> None:
            output.note(f"run {run_id}: {_describe(run)}")

        return waiting.follow(client, run_id, log)
    line = _StatusLine(name, run_id)
    with Status(line, console=output.err(), spinner="dots"):
        return waiting.follow(client, run_id, line.show)


class _StatusLine:
    """The live line's text, rendered afresh on every refresh so the elapsed time ticks."""

    def __init__(self, name: str, run_id: int) -> None:
        self.name, self.run_id = name, run_id
        self.run: dict[str, Any] = {}
        self.started = time.monotonic()

    def show(self, run: dict[str, Any]) -> None:
        self.run = run

    def __rich__(self) -> str:
        status = self.run.get("status", "Pending")
        style = styles.STATUS_STYLES.get(status, "")
        detail = escape(_describe(self.run)[len(status) :]) if self.run else ""
        elapsed = time.monotonic() - self.started
        return (
            f"[bold]{escape(self.name)}[/] run {self.run_id}  [{style}]{status}[/]{detail}"
            f"  [dim]{elapsed:.0f}s[/]"
        )


def _describe(run: dict[str, Any]) -> str:
    text = str(run["status"])
    if run.get("worker_id") and run["status"] not in waiting.FINAL_STATUSES:
        text += f" on {run['worker_id']}"
    if run.get("retry_count"):
        text += f" (attempt {run['retry_count'] + 1})"
    return text


def _print_outcome(run: dict[str, Any]) -> None:
    if run.get("result"):
        text = run["result"]
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()
    if run.get("error_message"):
        output.err().print(escape(run["error_message"].rstrip("\n")), style="red")
    mark = {"Completed": "[green]✓[/]", "Timeout": "[magenta]⏱[/]"}.get(run["status"], "[red]✗[/]")
    attempts = run["retry_count"] + 1
    output.note(
        f"{mark} run {run['id']} [{styles.STATUS_STYLES.get(run['status'], '')}]"
        f"{run['status']}[/] after {show_duration_ms(run.get('execution_duration_ms'))}"
        + (f", {attempts} attempts" if attempts > 1 else "")
        + (f" on {escape(run['worker_id'])}" if run.get("worker_id") else "")
    )
