"""Bodies of ``POST /api/tasks/apply`` and ``GET /api/tasks/export``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from api.envelope import Timestamp
from api.errors import ErrorCode
from api.tasks.schemas import Name, TaskFields

MAX_APPLY_TASKS = 1000
DependencyNames = Annotated[list[Name], msgspec.Meta(max_length=100)]


class ApplyDefinition(TaskFields, forbid_unknown_fields=True):
    """A task definition as apply takes it and export writes it: task create's body, with
    ``dependencies`` naming tasks (of the same set or on the server) instead of ids."""

    dependencies: DependencyNames = msgspec.field(default_factory=list)


class ApplyIn(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/tasks/apply``: the whole set of tasks, keyed by name."""

    tasks: Annotated[list[ApplyDefinition], msgspec.Meta(max_length=MAX_APPLY_TASKS)]
    prune: bool = False
    """Delete every task on the server that ``tasks`` does not name (needs TaskDelete too)."""
    dry_run: bool = False
    """Compute and validate the plan; write nothing."""


class ApplyRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``ApplyIn`` as it is decoded: each definition is checked on its own afterwards, so
    one answer can list the problems of every task."""

    tasks: Annotated[list[Any], msgspec.Meta(max_length=MAX_APPLY_TASKS)]
    prune: bool = False
    dry_run: bool = False


class FieldChange(msgspec.Struct):
    old: Any
    new: Any


class PlannedCreate(msgspec.Struct):
    name: str
    id: int | None
    """Null in a dry run."""
    definition: ApplyDefinition
    """The full definition in canonical form, as export writes it."""


class PlannedUpdate(msgspec.Struct):
    name: str
    id: int
    changes: dict[str, FieldChange]
    """Only the fields that differ."""


class PlannedUnchanged(msgspec.Struct):
    name: str
    id: int


class PlannedDelete(msgspec.Struct):
    name: str
    id: int
    definition: ApplyDefinition
    """What is deleted, as export writes it."""


class ApplyOut(msgspec.Struct):
    dry_run: bool
    prune: bool
    create: list[PlannedCreate]
    update: list[PlannedUpdate]
    unchanged: list[PlannedUnchanged]
    delete: list[PlannedDelete]
    """With ``prune``: every task on the server that the set does not name, by name."""
    ids: dict[str, int] | None
    """Name -> id of every task of the set once applied; null in a dry run."""


class ExportOut(msgspec.Struct):
    tasks: list[ApplyDefinition]
    """Every task, by id ascending: a body ``POST /api/tasks/apply`` accepts."""


class ApplyProblem(msgspec.Struct):
    index: int | None
    """The definition's position in ``tasks``; null for a problem of the request itself."""
    task: str | None
    """The definition's name; null when it has none usable."""
    field: str
    """Inside the definition (``schedule``, ``parameters.command``), or the request's own."""
    code: ErrorCode
    message: str


class ApplyProblems(msgspec.Struct):
    errors: list[ApplyProblem]


class ApplyRefusalBody(msgspec.Struct):
    code: ErrorCode
    message: str
    details: ApplyProblems


class ApplyRefusal(msgspec.Struct, kw_only=True):
    """The 422 of an apply: every problem of the set, nothing written."""

    success: Annotated[bool, msgspec.Meta(extra_json_schema={"const": False})]
    error: ApplyRefusalBody
    timestamp: Timestamp
