"""Decoding an apply's definitions one by one, so that one answer lists every bad field.

msgspec stops at the first error of a document; here each definition, and
each field of it, is converted on its own against ``ApplyDefinition``'s
types, and every failure becomes an ``ApplyProblem``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from api.apply.schemas import ApplyDefinition, ApplyProblem
from api.errors import ApiError, ErrorCode
from api.schedules.rules import check_schedule, check_timezone
from domain.parameters import field_of

_FIELDS = msgspec.structs.fields(ApplyDefinition)
_KNOWN = {field.encode_name for field in _FIELDS}
_IN_TASK = re.compile(r"^tasks\[(?P<index>\d+)\]\.?(?P<field>.*)$")

# Rules of task create that read one field alone. A definition that decodes
# whole meets them in ``canonical_fields``; one that does not is never held to
# them there, so its decoded fields are checked here, and one answer lists
# a bad cron beside a bad type.
_SINGLE_FIELD_RULES: dict[str, Callable[[Any], None]] = {
    "schedule": check_schedule,
    "timezone": check_timezone,
}


def problem(
    index: int | None,
    task: str | None,
    field: str,
    message: str,
    code: ErrorCode = ErrorCode.VALIDATION_ERROR,
) -> ApplyProblem:
    return ApplyProblem(index=index, task=task, field=field, code=code, message=message)


def problem_of(index: int | None, task: str | None, error: ApiError) -> ApplyProblem:
    """The problem a single task write would have answered ``error`` for."""
    details = error.details if isinstance(error.details, dict) else {}
    return ApplyProblem(
        index=index,
        task=task,
        field=str(details.get("field", "")),
        code=error.code,
        message=str(details.get("message", error.message)),
    )


def refusal(problems: list[ApplyProblem]) -> ApiError:
    """The 422 that lists every problem of the set (the request's own first, then by position)."""
    ordered = sorted(problems, key=lambda item: -1 if item.index is None else item.index)
    return ApiError(
        422,
        ErrorCode.VALIDATION_ERROR,
        f"{len(ordered)} problem{'s' if len(ordered) != 1 else ''} in the set; nothing was applied",
        {"errors": ordered},
    )


def request_problem(error: ApiError) -> ApplyProblem:
    """A problem the whole-body checks found (a NUL character, a wrong type), placed in its
    definition when its path points into one."""
    details = error.details if isinstance(error.details, dict) else {}
    path = str(details.get("field", ""))
    found = _IN_TASK.match(path)
    if found is None:
        return problem_of(None, None, error)
    located = problem_of(int(found.group("index")), None, error)
    located.field = found.group("field")
    return located


def label(item: Any) -> str | None:
    """The name a definition gives itself, trimmed, if it gives a usable one."""
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"].strip() or None
    return None


def decode_definition(index: int, item: Any) -> tuple[ApplyDefinition | None, list[ApplyProblem]]:
    """The definition at ``index`` of the set, or every problem its fields have."""
    name = label(item)
    if not isinstance(item, dict):
        return None, [problem(index, None, "", "must be an object (a task definition)")]
    problems = [
        problem(index, name, str(key), "unknown field") for key in item if key not in _KNOWN
    ]
    checks: list[tuple[Callable[[Any], None], Any]] = []
    for field in _FIELDS:
        if field.encode_name not in item:
            if field.required:
                problems.append(problem(index, name, field.encode_name, "required field"))
            continue
        value = item[field.encode_name]
        if field.name == "dependencies" and _holds_ids(value):
            problems.append(
                problem(
                    index,
                    name,
                    "dependencies",
                    "name the tasks this one depends on: apply takes names, not ids",
                )
            )
            continue
        try:
            decoded = msgspec.convert(value, type=field.type, strict=True)
        except msgspec.ValidationError as exc:
            problems.append(problem(index, name, *_located(field.encode_name, exc)))
            continue
        rule = _SINGLE_FIELD_RULES.get(field.encode_name)
        if rule is not None:
            checks.append((rule, decoded))
    if problems:
        for rule, decoded in checks:
            try:
                rule(decoded)
            except ApiError as exc:
                problems.append(problem_of(index, name, exc))
        return None, problems
    try:
        return msgspec.convert(item, type=ApplyDefinition, strict=True), []
    except msgspec.ValidationError as exc:  # a rule across fields, should msgspec grow one
        return None, [problem(index, name, *_located("", exc))]


def _holds_ids(value: Any) -> bool:
    return isinstance(value, list) and any(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    )


def _located(field: str, error: msgspec.ValidationError) -> tuple[str, str]:
    """``(field path, message)`` of a conversion error of ``field``'s value."""
    path, message = field_of(error)
    if not path:
        return field, message
    if not field:
        return path, message
    return (f"{field}{path}" if path.startswith("[") else f"{field}.{path}"), message
