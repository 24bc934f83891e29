"""``scheduler apply``: make the server's tasks what the files say, all at once or not at all."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

from cyclopts import Parameter
from rich.prompt import Confirm

from cli import error_view, manifest, output, plan_view
from cli.client import ApiClient
from cli.connection import connect
from cli.errors import ApiFailure, CliError
from cli.output import OutputOption


def apply(
    *,
    file: Annotated[Path, Parameter(name=["--file", "-f"])],
    prune: Annotated[bool, Parameter(negative=())] = False,
    dry_run: Annotated[bool, Parameter(negative=())] = False,
    yes: Annotated[bool, Parameter(name=["--yes", "-y"], negative=())] = False,
    output_format: OutputOption = "table",
) -> int:
    """Create, update (and with `--prune` delete) tasks so the server matches the files.

    Reads one YAML file, or every `*.yaml` under a folder, prints the plan as a
    diff (`+` create, `~` update with old → new, `-` delete) and, on a terminal,
    asks before applying unless `--yes`. The server applies the whole set in one
    transaction, schedules included, or nothing: when it refuses, every problem
    of every task is listed and the exit code is 1. Applying the same files
    again changes nothing.

    **Examples**

    ```
    scheduler apply -f tasks.yaml
    scheduler apply -f jobs/ --prune --dry-run
    scheduler apply -f tasks.yaml --yes           # CI: no question asked
    scheduler export > tasks.yaml                 # start from what is deployed
    ```

    Parameters
    ----------
    file
        A YAML file, or a folder whose `*.yaml` files are read together.
    prune
        Also delete every task on the server that the files do not define.
    dry_run
        Show the plan and change nothing.
    yes
        Apply without asking, even on a terminal.
    """
    definitions = manifest.load(file)
    if prune and not definitions:
        # Most likely the wrong file or folder; deleting every task is `tasks rm`'s job.
        raise CliError(
            f"{file} defines no task: --prune would delete every task on the server",
            hint="check the path; to delete tasks, use `scheduler tasks rm`",
        )
    written = {definition.name: definition.body for definition in definitions}
    body: dict[str, Any] = {"tasks": [d.body for d in definitions], "prune": prune}
    table = output_format == "table"
    ask = not yes and not dry_run and sys.stdin.isatty()
    with connect() as client:
        if not (dry_run or ask):
            applied = _send(client, body, definitions, dry_run=False)
            output.emit(applied, output_format, lambda: plan_view.render(applied, written))
            return 0
        plan = _send(client, body, definitions, dry_run=True)
        if table:
            output.out().print(plan_view.render(plan, written))
        if dry_run or not plan_view.has_changes(plan):
            if not table:
                output.emit(plan, output_format, lambda: None)
            elif not plan_view.has_changes(plan):
                output.note("[green]✓[/] nothing to change")
            return 0
        if not Confirm.ask("Apply this plan?", default=False, console=output.err()):
            raise CliError("nothing was applied")
        applied = _send(client, body, definitions, dry_run=False)
    if plan_view.actions(applied) != plan_view.actions(plan):
        # Someone changed the server between the plan and the apply: say what was done.
        output.note(
            "[yellow]the server's tasks changed since the plan was shown; this was applied:[/]"
        )
        output.emit(applied, output_format, lambda: plan_view.render(applied, written))
    elif table:
        output.out().print(plan_view.summary(applied))
    else:
        output.emit(applied, output_format, lambda: None)
    return 0


def _send(
    client: ApiClient,
    body: dict[str, Any],
    definitions: list[manifest.Definition],
    *,
    dry_run: bool,
) -> dict[str, Any]:
    try:
        plan: dict[str, Any] = client.post("/api/tasks/apply", {**body, "dry_run": dry_run})
    except ApiFailure as exc:
        problems = exc.details.get("errors") if isinstance(exc.details, dict) else None
        if isinstance(problems, list):
            raise ApplyRefused(exc, problems, definitions) from None
        raise
    return plan


class ApplyRefused(ApiFailure):
    """The server refused the set; each problem is shown with the file it came from."""

    def __init__(
        self,
        failure: ApiFailure,
        problems: list[Any],
        definitions: list[manifest.Definition],
    ) -> None:
        super().__init__(failure.status, failure.code, failure.message, None)
        for problem in problems:
            if not isinstance(problem, dict):
                continue
            index = problem.get("index")
            where = None
            if isinstance(index, int) and 0 <= index < len(definitions):
                where = f"[dim]{definitions[index].where}[/]"
            self.lines.append(error_view.problem_line(problem, where))
