"""Task files: YAML with a ``tasks`` list of definitions, one file or a folder of them.

A file is ``{"tasks": [<definition>, ...]}`` (a bare list is accepted too); a
definition is the body of ``POST /api/tasks`` with ``dependencies`` by name,
passed to the API as written. The one change made on the way: a relative
``script_path``, ``working_directory`` or ``virtual_env`` in ``parameters`` is
taken relative to the file's folder, so a file can name the scripts beside it
(the API wants absolute paths).

Every problem of every file is collected before anything is sent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.markup import escape

from cli.errors import CliError

SUFFIXES = (".yaml", ".yml")
PATH_PARAMETERS = ("script_path", "working_directory", "virtual_env")


@dataclass(frozen=True)
class Definition:
    source: Path
    position: int
    """1-based position in its file."""
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.body["name"])

    @property
    def where(self) -> str:
        return f"{self.source}#{self.position}"


class ManifestError(CliError):
    """The files cannot be read as task definitions; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        count = len(problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in the task files; nothing was sent"
        )
        self.problems = problems
        self.lines = [f"  [red]✗[/] {escape(problem)}" for problem in problems]


class _Loader(yaml.SafeLoader):
    """YAML without implicit timestamps: ``2026-03-01`` stays the string it is to the API."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def files_of(path: Path) -> list[Path]:
    """``path`` itself, or every ``*.yaml``/``*.yml`` under the folder ``path``, sorted."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        if not found:
            raise CliError(f"{path} holds no *.yaml file")
        return found
    if not path.exists():
        raise CliError(f"{path} does not exist")
    return [path]


def load(path: Path) -> list[Definition]:
    """Every definition of the file or folder, in order; ``ManifestError`` lists all problems."""
    problems: list[str] = []
    definitions: list[Definition] = []
    for file in files_of(path):
        definitions += _load_file(file, problems)
    seen: dict[str, Definition] = {}
    for definition in definitions:
        first = seen.setdefault(definition.name, definition)
        if first is not definition:
            problems.append(
                f"{definition.where}: task {definition.name!r} is also defined at {first.where}"
            )
    if problems:
        raise ManifestError(problems)
    return definitions


def parse(text: str, source: Path) -> list[Definition]:
    """The definitions of one document's text (``source`` names it and anchors relative paths)."""
    problems: list[str] = []
    definitions = _definitions(text, source, problems)
    if problems:
        raise ManifestError(problems)
    return definitions


def _load_file(file: Path, problems: list[str]) -> list[Definition]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{file}: cannot be read ({exc})")
        return []
    return _definitions(text, file, problems)


def _definitions(text: str, source: Path, problems: list[str]) -> list[Definition]:
    try:
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(source, exc))
        return []
    if document is None:
        return []
    if isinstance(document, dict):
        unknown = sorted(str(key) for key in document if key != "tasks")
        if unknown:
            problems.append(
                f"{source}: unknown top-level key(s) {', '.join(unknown)}; expected `tasks`"
            )
        items = document.get("tasks", [])
    else:
        items = document
    if not isinstance(items, list):
        problems.append(f"{source}: `tasks` must be a list of task definitions")
        return []
    definitions = []
    for position, item in enumerate(items, start=1):
        where = f"{source}#{position}"
        if not isinstance(item, dict):
            problems.append(f"{where}: a task definition is a mapping of fields, not {_kind(item)}")
            continue
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: every task needs a `name` (a non-empty string)")
            continue
        definitions.append(Definition(source, position, _anchor_paths(item, source)))
    return definitions


def _anchor_paths(definition: dict[str, Any], source: Path) -> dict[str, Any]:
    parameters = definition.get("parameters")
    if not isinstance(parameters, dict):
        return definition
    folder = source.absolute().parent
    anchored = dict(parameters)
    for key in PATH_PARAMETERS:
        value = anchored.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value) and "\x00" not in value:
            anchored[key] = os.path.normpath(folder / value)
    return {**definition, "parameters": anchored}


def _yaml_problem(source: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(source)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None) or ""
    text = f"{where}: not valid YAML: {problem}" + (f" ({context})" if context else "")
    if "alias" in f"{problem} {context}" or "tag" in f"{problem} {context}":
        text += ' (quote values that start with * or !, such as cron expressions: "*/5 * * * *")'
    return text


def _kind(value: Any) -> str:
    return {
        list: "a list",
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true/false",
    }.get(type(value), type(value).__name__)
