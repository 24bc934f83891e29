"""``-o table|json|yaml``: how every command prints what it got.

Tables are for people (Rich, coloured on a terminal); ``json`` and ``yaml``
print the API's ``data`` as it came, for programs. Messages and the live
status line go to stderr, so stdout holds only the answer.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, Literal

from cyclopts import Parameter
from rich.console import Console, RenderableType

from cli.yaml_text import dump_yaml

Format = Literal["table", "json", "yaml"]
OutputOption = Annotated[
    Format,
    Parameter(
        name=["--output", "-o"],
        help="Output format: `table` for people, `json` or `yaml` (the API's data) for programs.",
    ),
]

PIPE_WIDTH = 200
"""Width of tables written to a pipe or file, where Rich would otherwise wrap at 80 columns."""


def _console(stderr: bool) -> Console:
    # No file is bound: Rich writes to whatever sys.stdout / sys.stderr is at the time.
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and not os.environ.get("COLUMNS"):
        width = PIPE_WIDTH
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def out() -> Console:
    """The console of answers (stdout)."""
    return _console(stderr=False)


def err() -> Console:
    """The console of messages, prompts' companions and the live status line (stderr)."""
    return _console(stderr=True)


def help_console() -> Console:
    """Help pages: the terminal's width, or Rich's 80 columns in a pipe."""
    return Console(highlight=False)


def emit(data: Any, fmt: Format, table: Callable[[], RenderableType | None]) -> None:
    """Print ``data`` as JSON or YAML, or the renderable ``table`` builds."""
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "yaml":
        sys.stdout.write(dump_yaml(data))
    else:
        renderable = table()
        if renderable is not None:
            out().print(renderable)


def note(message: str) -> None:
    """A message for the person at the terminal (stderr), in Rich markup."""
    err().print(message)
