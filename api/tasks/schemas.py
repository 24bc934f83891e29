"""Request and response bodies of the task and run endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from api.openapi.fields import (
    RunStatusText,
    TaskStatusText,
    TaskTypeText,
    TriggerText,
    UtcDateTime,
    one_of,
)
from api.openapi.structs import REF_TEMPLATE
from domain.parameters import PARAMETER_TYPES
from domain.statuses import TaskStatus
from domain.task_types import SUPPORTED_TASK_TYPES

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
TaskType = Annotated[str, msgspec.Meta(min_length=1, max_length=100), one_of(SUPPORTED_TASK_TYPES)]
Cron = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Timeout = Annotated[int, msgspec.Meta(ge=1, le=86400)]
Retries = Annotated[int, msgspec.Meta(ge=0, le=10)]
DependencyTimeout = Annotated[int, msgspec.Meta(ge=1, le=7 * 86400)]
MAX_TASK_ID = 2**31 - 1
"""Task ids are 32-bit integers in the database."""
MAX_RUN_ID = 2**63 - 1
TaskId = Annotated[int, msgspec.Meta(ge=1, le=MAX_TASK_ID)]
Dependencies = Annotated[list[TaskId], msgspec.Meta(max_length=100)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Parameters = Annotated[
    dict[str, Any],
    msgspec.Meta(description="What a run does, in the schema of the task type"),
]
PARAMETERS_BY_TYPE: dict[str, Any] = {
    "allOf": [
        {
            "if": {"properties": {"task_type": {"const": task_type}}, "required": ["task_type"]},
            "then": {
                "properties": {"parameters": {"$ref": REF_TEMPLATE.format(name=schema.__name__)}}
            },
        }
        for task_type, schema in PARAMETER_TYPES.items()
    ]
}
"""What ``TaskWrite`` and ``TaskPatch`` add to their schema: which parameters a task type takes
(a patch without ``task_type`` is checked against the task's own)."""
OverlapPolicyName = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]
DstPolicyName = Literal["cron", "strict"]
Jitter = Annotated[int, msgspec.Meta(ge=0, le=3600)]
RunStatusName = Literal["Pending", "Dispatched", "Running", "Completed", "Failed", "Timeout"]
EventName = Literal["failure", "timeout", "recovery", "success", "late", "missed", "auto_paused"]
"""What ``notifications[].on`` may list (``domain.notifications.SUBSCRIBABLE_EVENTS``)."""
ChannelId = Annotated[int, msgspec.Meta(ge=1, le=MAX_TASK_ID)]
LateAfter = Annotated[int, msgspec.Meta(ge=1, le=7 * 86400)]
PauseAfter = Annotated[int, msgspec.Meta(ge=1, le=100)]


class Subscription(msgspec.Struct, forbid_unknown_fields=True):
    """Send the task's events named in ``on`` to the notification channel ``channel_id``."""

    channel_id: ChannelId
    on: Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=7)]


Subscriptions = Annotated[list[Subscription], msgspec.Meta(max_length=20)]


class TaskFields(msgspec.Struct, forbid_unknown_fields=True):
    """A task's definition as its owner writes it, but for its dependencies.

    ``TaskWrite`` (dependencies by id) and ``ApplyDefinition`` (by name) are
    this plus ``dependencies``: a field added here is a field of task create,
    PUT, apply and export alike.
    """

    name: Name
    task_type: TaskType
    schedule: Cron
    parameters: Parameters = msgspec.field(default_factory=dict)
    timeout_seconds: Timeout = 3600
    max_retries: Retries = 0
    status: TaskStatus = "Active"
    timezone: TimeZone | None = None
    dependency_timeout_seconds: DependencyTimeout | None = None
    overlap_policy: OverlapPolicyName = "skip"
    catchup_window_seconds: int | None = None
    """Null: the deployment's default. Bounds are checked by the service (Temporal's floor)."""
    jitter_seconds: Jitter = 0
    dst_policy: DstPolicyName = "cron"
    notifications: Subscriptions = msgspec.field(default_factory=list)
    late_after_seconds: LateAfter | None = None
    """A scheduled fire not started this long after its time sends ``late``; null: never."""
    pause_after_failures: PauseAfter | None = None
    """Pause the task after this many consecutive failed scheduled runs; null: never."""
    redeliver_finished: bool = False
    """True: when Temporal retries an attempt whose finished outcome it never received,
    run the command again instead of returning the recorded outcome."""


class TaskWrite(TaskFields, forbid_unknown_fields=True):
    """Body of ``POST /api/tasks`` and ``PUT /api/tasks/{id}`` (full replace)."""

    dependencies: Dependencies = msgspec.field(default_factory=list)


class TaskPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PATCH /api/tasks/{id}``: only the fields given change."""

    name: Name | UnsetType = UNSET
    task_type: TaskType | UnsetType = UNSET
    schedule: Cron | UnsetType = UNSET
    parameters: Parameters | UnsetType = UNSET
    timeout_seconds: Timeout | UnsetType = UNSET
    max_retries: Retries | UnsetType = UNSET
    dependencies: Dependencies | UnsetType = UNSET
    status: TaskStatus | UnsetType = UNSET
    timezone: TimeZone | UnsetType | None = UNSET
    dependency_timeout_seconds: DependencyTimeout | UnsetType | None = UNSET
    overlap_policy: OverlapPolicyName | UnsetType = UNSET
    catchup_window_seconds: int | UnsetType | None = UNSET
    jitter_seconds: Jitter | UnsetType = UNSET
    dst_policy: DstPolicyName | UnsetType = UNSET
    notifications: Subscriptions | UnsetType = UNSET
    late_after_seconds: LateAfter | UnsetType | None = UNSET
    pause_after_failures: PauseAfter | UnsetType | None = UNSET
    redeliver_finished: bool | UnsetType = UNSET


class TaskOut(msgspec.Struct):
    id: int
    name: str
    task_type: TaskTypeText
    schedule: str
    parameters: dict[str, Any]
    timeout_seconds: int
    max_retries: int
    status: TaskStatusText
    dependencies: list[int]
    created_at: UtcDateTime
    updated_at: UtcDateTime
    timezone: str | None
    dependency_timeout_seconds: int | None
    overlap_policy: str
    catchup_window_seconds: int
    jitter_seconds: int
    dst_policy: str
    redeliver_finished: bool
    next_run_at: UtcDateTime | None
    """The next fire time (DST policy applied, jitter not); null while Inactive."""
    notifications: list[Subscription]
    late_after_seconds: int | None
    pause_after_failures: int | None
    paused_reason: str | None
    """Why the scheduler paused the task (auto-pause); null otherwise, and cleared on resume."""


class RunOut(msgspec.Struct):
    id: int
    task_id: int
    status: RunStatusText
    worker_id: str | None
    retry_count: int
    scheduled_at: UtcDateTime
    dispatched_at: UtcDateTime | None
    """When the run left ``Pending`` (its dependencies met); null while it waits."""
    started_at: UtcDateTime | None
    completed_at: UtcDateTime | None
    result: str | None
    error_message: str | None
    execution_duration_ms: int | None
    created_at: UtcDateTime
    trigger: TriggerText
    triggered_by: str | None
    """The username or API key name that triggered or backfilled the run; null for a fire."""
    workflow_id: str
    temporal_run_id: str | None
    temporal_ui_url: str | None
    """The run's history in the Temporal Web UI (null without ``SCHEDULER_TEMPORAL_UI_URL``)."""


class ExecutionStats(msgspec.Struct):
    total_runs: int
    successful_runs: int
    failed_runs: int
    success_rate: float
    average_duration_ms: float | None
    last_success: UtcDateTime | None
    last_failure: UtcDateTime | None


class TaskStatsOut(msgspec.Struct):
    total_runs: int
    successful_runs: int
    failed_runs: int
    success_rate: float
    average_duration_ms: float | None
    min_duration_ms: int | None
    max_duration_ms: int | None
    last_success: UtcDateTime | None
    last_failure: UtcDateTime | None
    runs_last_24h: int
    runs_last_7d: int
    runs_last_30d: int
    runs_skipped: int | None
    """Scheduled fires skipped because the previous run was still open (overlap policy Skip)."""
    runs_missed_7d: int
    """Fires of the last 7 days that the fire ledger calls ``missed``."""


class StatusChangeOut(msgspec.Struct):
    status: TaskStatusText
    changed_at: UtcDateTime
    changed_by: str | None
    """Username or API key name; null for the entry that began the history of an older task."""
    via: str
    """``create``, ``replace`` (PUT), ``patch``, ``bulk`` (pause/resume) or ``migration``."""


class TaskDetail(msgspec.Struct):
    id: int
    name: str
    task_type: TaskTypeText
    schedule: str
    parameters: dict[str, Any]
    timeout_seconds: int
    max_retries: int
    status: TaskStatusText
    dependencies: list[int]
    created_at: UtcDateTime
    updated_at: UtcDateTime
    timezone: str | None
    dependency_timeout_seconds: int | None
    overlap_policy: str
    catchup_window_seconds: int
    jitter_seconds: int
    dst_policy: str
    redeliver_finished: bool
    next_run_at: UtcDateTime | None
    """The next fire time (DST policy applied, jitter not); null while Inactive."""
    notifications: list[Subscription]
    late_after_seconds: int | None
    pause_after_failures: int | None
    paused_reason: str | None
    """Why the scheduler paused the task (auto-pause); null otherwise, and cleared on resume."""
    recent_runs: list[RunOut]
    execution_stats: ExecutionStats
    status_history: list[StatusChangeOut]
    """The newest 20 status changes, newest first."""


class TriggerOut(msgspec.Struct, omit_defaults=True):
    task_run_id: int
    message: str
    run: RunOut | None = None
    """With ``?wait=``: the run as it was when the wait ended (absent without ``wait``)."""


class CancelOut(msgspec.Struct):
    task_run_id: int
    message: str


class TaskSelector(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/tasks/pause`` and ``/resume``: tasks matching every selector given."""

    ids: Annotated[list[TaskId], msgspec.Meta(min_length=1, max_length=1000)] | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)] | None = None
    """Case-insensitive substring of the name, ``%`` and ``_`` taken literally."""
    task_type: TaskType | None = None


class BulkFailure(msgspec.Struct):
    id: int
    error: str


class BulkStatusOut(msgspec.Struct):
    changed: int
    ids: list[int]
    """The tasks whose status this request changed, ascending."""
    failed: list[BulkFailure]
    """Matching tasks left unchanged because their schedule (or row) could not be updated."""


class FireOut(msgspec.Struct):
    at: UtcDateTime
    outcome: Annotated[
        str, one_of(("ran", "skipped_overlap", "skipped_paused", "missed", "upcoming"))
    ]
    """``ran``, ``skipped_overlap``, ``skipped_paused``, ``missed`` or ``upcoming``."""
    task_run_id: int | None
    status: RunStatusText | None
    """The run's status when ``ran``."""
    note: str | None
    """Why the fire is shifted, or is one pass of a repeated hour (DST); else null."""


class FireSummary(msgspec.Struct):
    expected: int
    """Fire times in the range that are due (every outcome but ``upcoming``)."""
    ran: int
    skipped_overlap: int
    skipped_paused: int
    missed: int
    upcoming: int


class FiresOut(msgspec.Struct):
    task_id: int
    from_: UtcDateTime = msgspec.field(name="from")
    to: UtcDateTime
    fires: list[FireOut]
    """Every fire time the task's schedule defines in the range, ascending."""
    summary: FireSummary
