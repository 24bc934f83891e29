"""The ``scheduler`` command: its command tree and the one place errors become exit codes."""

from __future__ import annotations

import sys
from importlib import metadata

from cyclopts import App, CycloptsError, Parameter

from cli import error_view, output
from cli.commands import apply, export, login, preview, run, runs, status, tasks, workers
from cli.errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError

HELP = """Command line of the task scheduler: a client of its REST API.

Log in once (`scheduler login`), or set `SCHEDULER_URL` and `SCHEDULER_API_KEY`.
Every command takes `-o table|json|yaml` and `--help`.

**Examples**

```
scheduler login --url http://127.0.0.1:8080
scheduler apply -f examples/tasks.yaml
scheduler tasks ls
scheduler run nightly-extract --wait
```
"""


def _version() -> str:
    try:
        return metadata.version("temporal-task-scheduler")
    except metadata.PackageNotFoundError:
        return "unknown"


def _shown_default(value: object) -> str | None:
    # A flag's False and an option's None say nothing the description does not.
    return None if value is False or value is None else str(value)


def build() -> App:
    """The command tree (commands are registered on a fresh ``App`` each time)."""
    app = App(
        name="scheduler",
        help=HELP,
        help_format="markdown",
        version=_version,
        default_parameter=Parameter(negative=(), show_default=_shown_default),
        console=output.help_console(),
        error_console=output.err(),
        result_action="return_value",
        group_parameters="Options",
    )
    app.command(login.login)
    app.command(login.logout)
    app.command(tasks.app)
    app.command(run.run)
    app.command(runs.app)
    app.command(workers.app)
    app.command(status.status)
    app.command(apply.apply)
    app.command(export.export)
    app.command(preview.preview)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run one command and exit with its code; no failure ever leaves as a traceback."""
    sys.exit(run_command(sys.argv[1:] if argv is None else argv))


def run_command(argv: list[str]) -> int:
    try:
        result = build()(argv, exit_on_error=False, print_error=True)
    except CycloptsError:
        return EXIT_USAGE
    except CliError as error:
        error_view.show(output.err(), error)
        return error.exit_code
    except KeyboardInterrupt:
        output.note("[dim]interrupted[/]")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except Exception as error:
        output.note(f"[bold red]error:[/] unexpected {type(error).__name__}: {error}")
        return 1
    return result if isinstance(result, int) else 0
