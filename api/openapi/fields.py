"""Field types whose schema says exactly what the server sends or accepts.

Text fields keep ``str`` (rows hand them strings) and their schema lists the
values, so clients get enums and the conformance tests catch any value outside
them. Times are UTC, so their schema is RFC 3339's ``date-time``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, get_args

import msgspec

from api.auth.permissions import Permission, Role
from domain.statuses import RunStatus, RunTrigger, TaskStatus
from domain.task_types import SUPPORTED_TASK_TYPES


def one_of(values: Iterable[str]) -> msgspec.Meta:
    """A schema-only constraint: decoding is left to the field's own rules."""
    return msgspec.Meta(extra_json_schema={"enum": list(values)})


UtcDateTime = Annotated[datetime, msgspec.Meta(tz=True)]

TaskTypeText = Annotated[str, one_of(SUPPORTED_TASK_TYPES)]
TaskStatusText = Annotated[str, one_of(get_args(TaskStatus))]
RunStatusText = Annotated[str, one_of(status.value for status in RunStatus)]
TriggerText = Annotated[str, one_of(trigger.value for trigger in RunTrigger)]
WorkerStatusText = Annotated[str, one_of(("Alive", "Down"))]
PermissionText = Annotated[str, one_of(permission.value for permission in Permission)]
RoleText = Annotated[str, one_of(role.value for role in Role)]
PrincipalKindText = Annotated[str, one_of(("user", "api_key"))]
