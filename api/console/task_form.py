"""The task form: its fields to a ``TaskWrite`` (create) or ``TaskPatch`` (edit) by the
API's own strict decoding, and back.

A posted form becomes the JSON document a client would send to
``POST /api/tasks`` or ``PATCH /api/tasks/{id}`` (numbers as numbers, blanks
as absent or null) and is decoded by ``api.body.decode_body``: the form meets
the API's schema and its messages. An edit is a patch of the fields the form
holds, so what it does not show (notification subscriptions, say) is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from api.body import decode_body
from api.console.forms import Form
from api.errors import ApiError, validation_error
from api.tasks.schemas import TaskDetail, TaskPatch, TaskWrite

INTEGERS = ("timeout_seconds", "max_retries", "jitter_seconds")
OPTIONAL_INTEGERS = (
    "dependency_timeout_seconds",
    "catchup_window_seconds",
    "late_after_seconds",
    "pause_after_failures",
)
TEXTS = ("name", "task_type", "schedule", "status", "overlap_policy", "dst_policy")
OVERLAP_POLICIES = (
    "skip",
    "buffer_one",
    "buffer_all",
    "cancel_other",
    "terminate_other",
    "allow_all",
)
DST_POLICIES = ("cron", "strict")
_WHOLE = re.compile(r"^-?\d{1,12}$")


@dataclass
class TaskFormState:
    """What the form shows: its values, and the API's refusal of them, if any."""

    values: dict[str, str]
    error: str | None = None
    error_field: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def blank_form() -> TaskFormState:
    return TaskFormState(
        values={
            "name": "",
            "task_type": "shell",
            "schedule": "0 9 * * *",
            "timezone": "",
            "status": "Active",
            "command": "",
            "parameters": "{}",
            "timeout_seconds": "3600",
            "max_retries": "0",
            "dependencies": "",
            "dependency_timeout_seconds": "",
            "overlap_policy": "skip",
            "catchup_window_seconds": "",
            "jitter_seconds": "0",
            "dst_policy": "cron",
            "late_after_seconds": "",
            "pause_after_failures": "",
        }
    )


def form_of(task: TaskDetail) -> TaskFormState:
    """The edit form of ``task``: its definition as the create form would have it."""
    parameters = dict(task.parameters)
    command = parameters.pop("command", "") if task.task_type == "shell" else ""
    return TaskFormState(
        values={
            "name": task.name,
            "task_type": task.task_type,
            "schedule": task.schedule,
            "timezone": task.timezone or "",
            "status": task.status,
            "command": str(command),
            "parameters": json.dumps(parameters, indent=2, ensure_ascii=False),
            "timeout_seconds": str(task.timeout_seconds),
            "max_retries": str(task.max_retries),
            "dependencies": ", ".join(str(dep) for dep in task.dependencies),
            "dependency_timeout_seconds": _text(task.dependency_timeout_seconds),
            "overlap_policy": task.overlap_policy,
            "catchup_window_seconds": _text(task.catchup_window_seconds),
            "jitter_seconds": str(task.jitter_seconds),
            "dst_policy": task.dst_policy,
            "late_after_seconds": _text(task.late_after_seconds),
            "pause_after_failures": _text(task.pause_after_failures),
        }
    )


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def posted(form: Form) -> TaskFormState:
    """The form's values as posted (shown again when the API refuses them)."""
    defaults = blank_form().values
    return TaskFormState(values={name: form.text(name, "") for name in defaults})


def task_write(state: TaskFormState) -> TaskWrite:
    """The new task the form holds; raises the ``ApiError`` the API would answer."""
    return decode_body(msgspec.json.encode(_document(state)), TaskWrite)


def task_patch(state: TaskFormState) -> TaskPatch:
    """The change the edit form holds: every field it shows, and nothing else."""
    return decode_body(msgspec.json.encode(_document(state)), TaskPatch)


def _document(state: TaskFormState) -> dict[str, Any]:
    values = state.values
    document: dict[str, Any] = {name: values[name] for name in TEXTS}
    document["timezone"] = values["timezone"].strip() or None
    for name in INTEGERS:
        if values[name].strip():
            document[name] = _number(values[name])
    for name in OPTIONAL_INTEGERS:
        document[name] = _number(values[name]) if values[name].strip() else None
    document["dependencies"] = _ids(values["dependencies"])
    document["parameters"] = _parameters(values["parameters"])
    if values["task_type"] == "shell" and values["command"].strip():
        document["parameters"]["command"] = values["command"]
    return document


def refused(state: TaskFormState, error: ApiError) -> TaskFormState:
    """``state`` with the API's refusal to show beside the field it names."""
    details = error.details if isinstance(error.details, dict) else {}
    named = str(details.get("field", "")) or None
    if named is not None and named.startswith("parameters."):
        named = "command" if named == "parameters.command" else "parameters"
    return TaskFormState(state.values, error.message, named, details)


def _number(text: str) -> int | str:
    """A whole number as a number; anything else as text, for the schema to refuse by name."""
    stripped = text.strip()
    return int(stripped) if _WHOLE.match(stripped) else stripped


def _ids(text: str) -> list[int | str]:
    return [_number(item) for item in re.split(r"[\s,]+", text.strip()) if item]


def _parameters(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        raise validation_error("parameters", f"is not valid JSON: {exc.msg}") from exc
    if not isinstance(value, dict):
        raise validation_error("parameters", "must be a JSON object")
    return value
