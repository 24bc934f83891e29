"""Per task type parameter schemas and the path and shell rules they obey.

The API validates with these at create/update time; the executors validate
again at run time (a worker's allowlists may differ from the API's).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

import msgspec

NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


_AT_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def field_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """``(field path, message)`` of a msgspec validation error; the path is "" for the root.

    msgspec names the path as ``$.a.b[0]`` (``[...]`` for a dict value) or,
    for unknown and missing fields, only inside the message.
    """
    message = str(error)
    match = _AT_PATH.search(message)
    path = ""
    if match:
        message = message[: match.start()]
        path = match.group("path").replace("[...]", "").lstrip(".")
    if "`" in message and ("unknown field" in message or "required field" in message):
        name = message.split("`")[1]
        path = f"{path}.{name}" if path else name
    return path, message


class ParameterError(ValueError):
    """A parameter breaks a rule; ``field`` names it (``parameters.<key>``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ShellParameters(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    command: Annotated[str, msgspec.Meta(min_length=1, max_length=65536)]
    working_directory: NonEmpty | None = None
    environment: dict[str, str] = msgspec.field(default_factory=dict)
    shell: NonEmpty = "/bin/sh"


PARAMETER_TYPES: dict[str, type[msgspec.Struct]] = {"shell": ShellParameters}


def check_path(field: str, value: str, allowed_roots: tuple[str, ...]) -> str:
    """An absolute, normalised path free of NUL and ``..``, inside the allowed roots if any."""
    if "\x00" in value:
        raise ParameterError(field, "must not contain a NUL byte")
    if not os.path.isabs(value):
        raise ParameterError(field, f"must be an absolute path, got {value!r}")
    if ".." in value.split("/"):
        raise ParameterError(field, "must not contain '..' components")
    normalised = os.path.normpath(value)
    if allowed_roots and not any(
        normalised == root or normalised.startswith(root.rstrip("/") + "/")
        for root in map(os.path.normpath, allowed_roots)
    ):
        raise ParameterError(
            field, f"{normalised!r} is outside the allowed paths ({', '.join(allowed_roots)})"
        )
    return normalised


def _check_environment(field: str, environment: dict[str, str]) -> None:
    for key, value in environment.items():
        if not key or "=" in key or "\x00" in key or "\x00" in value:
            raise ParameterError(
                f"{field}.{key}",
                "environment names must be non-empty, without '=' or NUL, and values without NUL",
            )


def validate_parameters(
    task_type: str,
    raw: dict[str, Any],
    *,
    allowed_shells: tuple[str, ...],
    allowed_paths: tuple[str, ...],
) -> dict[str, Any]:
    """The parameters in canonical form, or ``ParameterError`` naming the bad field."""
    schema = PARAMETER_TYPES.get(task_type)
    if schema is None:
        raise ParameterError("task_type", f"unsupported task type {task_type!r}")
    try:
        parsed = msgspec.convert(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise ParameterError(f"parameters.{field}" if field else "parameters", message) from exc
    if isinstance(parsed, ShellParameters):
        if parsed.shell not in allowed_shells:
            raise ParameterError(
                "parameters.shell",
                f"shell {parsed.shell!r} is not allowed; use one of {', '.join(allowed_shells)}",
            )
        if "\x00" in parsed.command:
            raise ParameterError("parameters.command", "must not contain a NUL byte")
        if parsed.working_directory is not None:
            parsed.working_directory = check_path(
                "parameters.working_directory", parsed.working_directory, allowed_paths
            )
        _check_environment("parameters.environment", parsed.environment)
    result: dict[str, Any] = msgspec.to_builtins(parsed)
    return result
