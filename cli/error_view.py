"""How a failure reads on stderr: the API's code and message, the details that help, a hint."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

from cli.errors import ApiFailure, CliError


def problem_line(problem: dict[str, Any], where: str | None = None) -> str:
    """One item of a ``details.errors`` list: ``task · field: [CODE] message`` in markup."""
    task = problem.get("task")
    field = problem.get("field")
    code = problem.get("code")
    head = " · ".join(
        part for part in (f"[bold]{escape(str(task))}[/]" if task else None, where) if part
    )
    target = f"[cyan]{escape(str(field))}[/]: " if field else ""
    tag = f"[dim]\\[{escape(str(code))}][/] " if code else ""
    message = escape(str(problem.get("message", "")))
    return f"  [red]✗[/] {head + '  ' if head else ''}{target}{tag}{message}"


def show(console: Console, error: CliError) -> None:
    """Print ``error`` for a person: never a traceback."""
    message = escape(error.message)
    if isinstance(error, ApiFailure):
        console.print(
            f"[bold red]error:[/] {message} [dim]({escape(error.code)}, HTTP {error.status})[/]"
        )
        _details(console, error.details)
    else:
        console.print(f"[bold red]error:[/] {message}")
    for line in error.lines:
        console.print(line)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}")


def _details(console: Console, details: Any) -> None:
    if not isinstance(details, dict) or not details:
        return
    problems = details.get("errors")
    if isinstance(problems, list):
        for problem in problems:
            if isinstance(problem, dict):
                console.print(problem_line(problem))
        return
    shown = {k: v for k, v in details.items() if k not in ("message",)}
    if "field" in shown and len(shown) == 1:
        console.print(f"  field: [cyan]{escape(str(shown['field']))}[/]")
        return
    console.print(f"  [dim]details: {escape(json.dumps(shown, ensure_ascii=False))}[/]")
