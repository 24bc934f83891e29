"""Per task type parameter schemas and the path, program and environment rules they obey.

The API validates with these at create/update time; the executors validate
again at run time (a worker's allowlists may differ from the API's, and a
symlink may have been re-pointed since).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from domain.secret_refs import SecretRef

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
    environment: dict[str, str | SecretRef] = msgspec.field(default_factory=dict)
    shell: NonEmpty = "/bin/sh"


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class HttpParameters(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=8192)]
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str | SecretRef] = msgspec.field(default_factory=dict)
    query: dict[str, str | SecretRef] = msgspec.field(default_factory=dict)
    """Query parameters appended to ``url`` (the URL itself is never a reference)."""
    body: str | SecretRef | None = None
    timeout_ms: Annotated[int, msgspec.Meta(ge=1, le=86_400_000)] = 30_000
    follow_redirects: bool = True


class PythonParameters(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    script_path: NonEmpty
    arguments: Annotated[list[str], msgspec.Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )
    python_executable: NonEmpty | None = None
    virtual_env: NonEmpty | None = None
    working_directory: NonEmpty | None = None
    environment: dict[str, str | SecretRef] = msgspec.field(default_factory=dict)


PARAMETER_TYPES: dict[str, type[msgspec.Struct]] = {
    "shell": ShellParameters,
    "http": HttpParameters,
    "python": PythonParameters,
}
"""The parameter schema of each of the ``SUPPORTED_TASK_TYPES``."""

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_VENV_PYTHON = re.compile(r"^python(3(\.[0-9]+)?)?$")

LOADER_ENV_NAMES = frozenset(
    {
        # glibc's loader and what it loads on request: code from any path.
        "GLIBC_TUNABLES",
        "GCONV_PATH",
        # sh and bash: a file sourced first, options and traces that run code.
        "BASH_ENV",
        "ENV",
        "SHELLOPTS",
        "BASHOPTS",
        "PS4",
        # Python: where modules, the standard library, site-packages and
        # cached bytecode come from, and code run before or after the script.
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONINSPECT",
        "PYTHONUSERBASE",
        "PYTHONPLATLIBDIR",
        "PYTHONPYCACHEPREFIX",
    }
)
"""Environment names that change what code a shell, Python or the loader runs.

Refused in a task's ``environment`` unless ``SCHEDULER_ALLOW_LOADER_ENV=1``:
each one lets a task run code from outside ``script_path`` and the allowed
paths (and interpreters) without saying so in its command or script.
"""

LOADER_ENV_PREFIXES = ("LD_", "BASH_FUNC_")
"""Every ``LD_*`` (``LD_PRELOAD``, ``LD_LIBRARY_PATH``, ``LD_AUDIT``, ...) and bash's
exported functions (``BASH_FUNC_name%%``), which replace any command a script runs."""


def changes_loading(name: str) -> bool:
    """Whether variable ``name`` changes how a shell, Python or the loader finds code."""
    return name in LOADER_ENV_NAMES or name.startswith(LOADER_ENV_PREFIXES)


@dataclass(frozen=True)
class ParameterRules:
    """What a deployment allows tasks to name: shells, paths, interpreters, environments."""

    allowed_shells: tuple[str, ...] = ("/bin/sh", "/bin/bash")
    allowed_paths: tuple[str, ...] = ()
    """Roots that ``script_path``, ``working_directory`` and ``virtual_env`` must resolve
    into; empty: anywhere."""
    allowed_interpreters: tuple[str, ...] = ()
    """Interpreters ``python_executable`` may name, besides a ``<dir>/bin/python`` inside
    ``allowed_paths`` (a virtual env's)."""
    allow_loader_env: bool = False


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def check_path(field: str, value: str, allowed_roots: tuple[str, ...]) -> str:
    """An absolute, normalised path free of NUL and ``..`` that resolves inside the roots, if any.

    The check is made on the path with every symlink resolved (``realpath``),
    against the roots resolved alike: a link inside a root that points out of
    it is outside. The normalised path as given is returned (a link such as
    ``current`` keeps following deployments); the executor resolves it again
    at the time of the run.
    """
    if "\x00" in value:
        raise ParameterError(field, "must not contain a NUL byte")
    if not os.path.isabs(value):
        raise ParameterError(field, f"must be an absolute path, got {value!r}")
    if ".." in value.split("/"):
        raise ParameterError(field, "must not contain '..' components")
    normalised = os.path.normpath(value)
    if allowed_roots:
        resolved = os.path.realpath(normalised)
        if not _inside(resolved, tuple(os.path.realpath(root) for root in allowed_roots)):
            shown = f"{normalised!r}" + (
                f" (resolving to {resolved!r})" if resolved != normalised else ""
            )
            raise ParameterError(
                field, f"{shown} is outside the allowed paths ({', '.join(allowed_roots)})"
            )
    return normalised


def check_interpreter(field: str, path: str, rules: ParameterRules) -> None:
    """``path`` (absolute, normalised) is an allowed interpreter or a virtual env's in the roots."""
    resolved = os.path.realpath(path)
    if resolved in {os.path.realpath(allowed) for allowed in rules.allowed_interpreters}:
        return
    bin_dir, name = os.path.split(path)
    env_dir, bin_name = os.path.split(bin_dir)
    if bin_name == "bin" and _VENV_PYTHON.match(name):
        roots = tuple(os.path.realpath(root) for root in rules.allowed_paths)
        if not roots or _inside(os.path.realpath(env_dir), roots):
            return
    allowed = ", ".join(rules.allowed_interpreters) or "none"
    where = ""
    if rules.allowed_paths:
        where = f"; or a virtual env's bin/python under {', '.join(rules.allowed_paths)}"
    raise ParameterError(
        field,
        f"{path!r} is not an allowed interpreter "
        f"(SCHEDULER_ALLOWED_INTERPRETERS: {allowed}{where})",
    )


def _check_environment(
    field: str, environment: dict[str, str | SecretRef], rules: ParameterRules
) -> None:
    for key, value in environment.items():
        if not key or "=" in key or "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise ParameterError(
                f"{field}.{key}",
                "environment names must be non-empty, without '=' or NUL, and values without NUL",
            )
        if not rules.allow_loader_env and changes_loading(key):
            raise ParameterError(
                f"{field}.{key}",
                f"{key} changes what code the shell, Python or the dynamic loader runs; "
                "refused unless the deployment sets SCHEDULER_ALLOW_LOADER_ENV=1",
            )


def validate_parameters(
    task_type: str, raw: dict[str, Any], rules: ParameterRules
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
        _check_shell(parsed, rules)
    elif isinstance(parsed, HttpParameters):
        _check_http(parsed)
    elif isinstance(parsed, PythonParameters):
        _check_python(parsed, rules)
    result: dict[str, Any] = msgspec.to_builtins(parsed)
    return result


def _check_shell(parsed: ShellParameters, rules: ParameterRules) -> None:
    if parsed.shell not in rules.allowed_shells:
        raise ParameterError(
            "parameters.shell",
            f"shell {parsed.shell!r} is not allowed; use one of {', '.join(rules.allowed_shells)}",
        )
    if "\x00" in parsed.command:
        raise ParameterError("parameters.command", "must not contain a NUL byte")
    if parsed.working_directory is not None:
        parsed.working_directory = check_path(
            "parameters.working_directory", parsed.working_directory, rules.allowed_paths
        )
    _check_environment("parameters.environment", parsed.environment, rules)


def _check_http(parsed: HttpParameters) -> None:
    try:
        url = urlsplit(parsed.url)
        port = url.port
    except ValueError as exc:
        raise ParameterError("parameters.url", f"not a valid URL: {exc}") from exc
    if url.scheme not in ("http", "https"):
        raise ParameterError("parameters.url", "must be an http:// or https:// URL")
    if not url.hostname:
        raise ParameterError("parameters.url", "must name a host")
    if url.username or url.password:
        raise ParameterError(
            "parameters.url", "must not carry credentials; send them in a header instead"
        )
    if port == 0:
        raise ParameterError("parameters.url", "port 0 is not a valid port")
    for name, value in parsed.headers.items():
        if not _HEADER_NAME.match(name):
            raise ParameterError(f"parameters.headers.{name}", "is not a valid header name")
        if isinstance(value, str) and any(ch in value for ch in "\r\n\x00"):
            raise ParameterError(f"parameters.headers.{name}", "must not contain CR, LF or NUL")
    for name, value in parsed.query.items():
        if not name or "\x00" in name or (isinstance(value, str) and "\x00" in value):
            raise ParameterError(
                f"parameters.query.{name}", "names must be non-empty, names and values without NUL"
            )
    if parsed.body is not None and parsed.method in ("GET", "HEAD"):
        raise ParameterError("parameters.body", f"a {parsed.method} request carries no body")


def _check_python(parsed: PythonParameters, rules: ParameterRules) -> None:
    allowed_paths = rules.allowed_paths
    parsed.script_path = check_path("parameters.script_path", parsed.script_path, allowed_paths)
    if parsed.python_executable is not None and parsed.virtual_env is not None:
        raise ParameterError(
            "parameters.virtual_env",
            "give python_executable or virtual_env, not both (a virtual env brings its own)",
        )
    if parsed.python_executable is not None:
        parsed.python_executable = check_path(
            "parameters.python_executable", parsed.python_executable, ()
        )
        check_interpreter("parameters.python_executable", parsed.python_executable, rules)
    if parsed.virtual_env is not None:
        parsed.virtual_env = check_path("parameters.virtual_env", parsed.virtual_env, allowed_paths)
    if parsed.working_directory is not None:
        parsed.working_directory = check_path(
            "parameters.working_directory", parsed.working_directory, allowed_paths
        )
    for index, argument in enumerate(parsed.arguments):
        if "\x00" in argument:
            raise ParameterError(f"parameters.arguments[{index}]", "must not contain a NUL byte")
    _check_environment("parameters.environment", parsed.environment, rules)
